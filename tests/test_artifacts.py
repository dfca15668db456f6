from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from pipeline.artifacts import (
    JsonlCache,
    append_jsonl,
    content_hash,
    iter_jsonl_dicts,
    output_lock,
    write_jsonl_atomic,
)


def test_content_hash_stable_and_sensitive() -> None:
    assert content_hash("a", 1) == content_hash("a", 1)
    assert content_hash("a", 1) != content_hash("a", 2)
    assert content_hash({"x": 1, "y": 2}) == content_hash({"y": 2, "x": 1})


def test_atomic_write_and_torn_last_line(tmp_path: Path) -> None:
    p = tmp_path / "r.jsonl"
    write_jsonl_atomic(p, [{"a": 1}, {"a": 2}])
    with open(p, "a") as f:
        f.write('{"a": 3')  # a crash mid-append
    assert [d["a"] for d in iter_jsonl_dicts(p)] == [1, 2]
    append_jsonl(p, [{"a": 4}])  # a later append starts on a fresh line
    assert [d["a"] for d in iter_jsonl_dicts(p)] == [1, 2, 4]
    assert not list(tmp_path.glob(".r.jsonl.*"))


def test_cache_journal_reloads(tmp_path: Path) -> None:
    c = JsonlCache(tmp_path / "c.jsonl")
    c.put("k1", {"v": 1})
    c.put_many({"k2": 2, "k1": {"v": 3}})
    again = JsonlCache(tmp_path / "c.jsonl")
    assert again.get("k1") == {"v": 3} and again.get("k2") == 2 and len(again) == 2
    again.compact()
    assert len((tmp_path / "c.jsonl").read_text().splitlines()) == 2


def test_lock_refuses_a_second_process(tmp_path: Path) -> None:
    code = (
        "import sys; from pipeline.artifacts import output_lock\n"
        "from pipeline.errors import LockError\n"
        "try:\n"
        f"    with output_lock({str(tmp_path)!r}): print('got it')\n"
        "except LockError as e: print('refused:', e)\n"
    )
    with output_lock(tmp_path), output_lock(tmp_path):  # re-entrant in one process
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("refused:") and "in use by another digest run" in out.stdout
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "got it"


def test_atomic_files_get_normal_permissions(tmp_path: Path) -> None:
    import os
    import stat

    from pipeline.artifacts import write_text_atomic

    p = tmp_path / "page.html"
    write_text_atomic(p, "<p>x</p>")
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(p.stat().st_mode) == 0o666 & ~mask
