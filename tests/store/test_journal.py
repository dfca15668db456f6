from __future__ import annotations

from pathlib import Path

from pipeline.store.journal import JsonlCache


def test_cache_journal_reloads(tmp_path: Path) -> None:
    c = JsonlCache(tmp_path / "c.jsonl")
    c.put("k1", {"v": 1})
    c.put_many({"k2": 2, "k1": {"v": 3}})
    again = JsonlCache(tmp_path / "c.jsonl")
    assert again.get("k1") == {"v": 3} and again.get("k2") == 2 and len(again) == 2
    again.compact()
    assert len((tmp_path / "c.jsonl").read_text().splitlines()) == 2
