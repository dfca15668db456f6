from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from pipeline.store import jsonl
from pipeline.store.jsonl import (
    append_jsonl,
    content_hash,
    iter_jsonl_dicts,
    write_jsonl_atomic,
    write_text_atomic,
)


def test_content_hash_stable_and_sensitive() -> None:
    assert content_hash("a", 1) == content_hash("a", 1)
    assert content_hash("a", 1) != content_hash("a", 2)
    assert content_hash({"x": 1, "y": 2}) == content_hash({"y": 2, "x": 1})


def test_content_hash_keeps_its_bytes() -> None:
    """Cache keys and stored hashes across the output folder depend on these exact bytes:
    sha256 over each part's ``json.dumps(sort_keys, ensure_ascii=False, default=str)``."""
    import datetime
    import hashlib
    import json

    parts = ["확산 모델", 3, 2.5, None, True, ["b", "a"], {"z": [1, {"é": "\u2028"}], "a": '"q"'}]
    parts.append(datetime.date(2026, 11, 28))  # through default=str
    h = hashlib.sha256()
    for p in parts:
        h.update(json.dumps(p, sort_keys=True, ensure_ascii=False, default=str).encode())
        h.update(b"\x1f")
    h.update(b"raw")
    h.update(b"\x1f")
    assert content_hash(*parts, b"raw", length=64) == h.hexdigest()


def test_atomic_write_and_torn_last_line(tmp_path: Path) -> None:
    p = tmp_path / "r.jsonl"
    write_jsonl_atomic(p, [{"a": 1}, {"a": 2}])
    with open(p, "a") as f:
        f.write('{"a": 3')  # a crash mid-append
    assert [d["a"] for d in iter_jsonl_dicts(p)] == [1, 2]
    append_jsonl(p, [{"a": 4}])  # a later append starts on a fresh line
    assert [d["a"] for d in iter_jsonl_dicts(p)] == [1, 2, 4]
    assert not list(tmp_path.glob(".r.jsonl.*"))


def test_atomic_files_get_normal_permissions(tmp_path: Path) -> None:
    p = tmp_path / "page.html"
    write_text_atomic(p, "<p>x</p>")
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(p.stat().st_mode) == 0o666 & ~mask


@pytest.mark.parametrize("writer", ["jsonl", "text"])
def test_every_atomic_writer_goes_through_the_one_primitive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, writer: str
) -> None:
    """A crash at the rename leaves the old file whole and no temp file behind, for both writers
    (they share one temp-file + fsync + os.replace primitive)."""
    p = tmp_path / "out.jsonl"
    write_text_atomic(p, '{"old": 1}\n')

    def crash(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(jsonl.os, "replace", crash)
    with pytest.raises(OSError):
        if writer == "jsonl":
            write_jsonl_atomic(p, [{"new": 1}])
        else:
            write_text_atomic(p, '{"new": 1}\n')
    assert p.read_text() == '{"old": 1}\n'
    assert [f.name for f in tmp_path.iterdir()] == ["out.jsonl"]


def test_text_hash_keeps_its_bytes() -> None:
    """The lexicon's and the gloss cache's keys: sha256 of ``namespace \\x1f text``."""
    import hashlib

    from pipeline.store.jsonl import text_hash

    text = "최소 튜닝(Minimum Tuning)"
    assert (
        text_hash("ko:lex-v1", text, length=24)
        == hashlib.sha256("ko:lex-v1\x1f최소 튜닝(Minimum Tuning)".encode()).hexdigest()[:24]
    )


def test_a_line_that_is_not_utf8_is_skipped_with_file_and_line(tmp_path: Path, caplog) -> None:
    """One bad byte costs its own line, not the file (a text-mode read raised on it)."""
    import logging

    from pipeline.records import Metadata
    from pipeline.store.reading import read_jsonl

    p = tmp_path / "metadata.jsonl"
    p.write_bytes(b'{"entry_id": "a"}\n{"entry_id": "\xff"}\n{"entry_id": 3}\n{"entry_id": "c"}\n')
    with caplog.at_level(logging.WARNING):
        got = read_jsonl(p, Metadata)
    assert [m.entry_id for m in got] == ["a", "c"]
    assert f"{p}:2: skipping a corrupt line" in caplog.text
    assert f"{p}:3: skipping a record that is not a valid Metadata" in caplog.text
