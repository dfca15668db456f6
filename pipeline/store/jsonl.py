"""JSONL files: content hashes, the one atomic-replace primitive and durable appends (tolerant
reads live in ``reading.py`` and are re-exported here).

Every write into an output folder goes through :func:`replace_atomically` or
:func:`append_jsonl`, and both refuse to write inside a folder whose lock this process does not
hold (``lock.check_may_write``): a command that forgets ``output_lock`` fails at its first write
instead of corrupting a folder another run is writing."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TextIO

from pydantic import BaseModel

from .lock import TEMP_PREFIX, TEMP_SUFFIX, check_may_write
from .reading import iter_jsonl_dicts, read_jsonl

__all__ = [
    "append_jsonl",
    "content_hash",
    "file_hash",
    "text_hash",
    "iter_jsonl_dicts",
    "read_jsonl",
    "replace_atomically",
    "write_jsonl_atomic",
    "write_text_atomic",
]

log = logging.getLogger(__name__)


# ``json.dumps(p, sort_keys=True, ensure_ascii=False, default=str)`` without building an
# encoder per call (the same bytes: json.dumps builds this very encoder)
_ENCODE = json.JSONEncoder(sort_keys=True, ensure_ascii=False, default=str).encode


def content_hash(*parts: Any, length: int = 16) -> str:
    """Stable sha256 over the JSON of ``parts`` (order matters)."""
    h = hashlib.sha256()
    for p in parts:
        if isinstance(p, BaseModel):
            p = p.model_dump(mode="json")
        if isinstance(p, bytes):
            h.update(p)
        else:
            h.update(_ENCODE(p).encode())
        h.update(b"\x1f")
    return h.hexdigest()[:length]


def text_hash(namespace: str, text: str, length: int = 16) -> str:
    """sha256 of one text under ``namespace`` (a version, an analyser): the key of a cache of
    per-text work, taken for every text of the corpus at each index run, so no JSON."""
    return hashlib.sha256(f"{namespace}\x1f{text}".encode()).hexdigest()[:length]


def file_hash(path: Path, length: int = 16) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:length]


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_current_umask()


# The test seam of the two write primitives: when set (tests only), it is called at the
# crash-prone point of every write, with the kind of write and the target:
# "replace": the temp file is written and fsynced, not yet renamed over the target;
# "append": half of the new lines are written.  A hook that raises (or SIGKILLs the process)
# simulates a crash there.  None in production.
write_hook: Callable[[str, Path], None] | None = None


def replace_atomically(path: Path, write: Callable[[TextIO], object], *, shared: bool = False) -> None:
    """THE atomic write every writer of this package goes through: ``write`` fills a temp
    file in the target's folder (normal permissions; mkstemp makes 0600), which is flushed,
    fsynced and renamed over ``path``.  On any error the temp file is removed and ``path``
    keeps its old content: a reader sees the old file or the new one, never a mix.
    Refused (``LockError``) inside an output folder whose lock this process does not hold,
    unless ``shared``: a cache no artifact derives from, which any command may rewrite (the
    endpoint capabilities: the last writer wins, and a reader sees one whole file)."""
    path = Path(path)
    if not shared:
        check_may_write(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            os.fchmod(f.fileno(), _FILE_MODE)
            write(f)
            f.flush()
            os.fsync(f.fileno())
        if write_hook is not None:
            write_hook("replace", path)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _dumps(record: BaseModel | dict[str, Any]) -> str:
    if isinstance(record, BaseModel):
        return record.model_dump_json()
    return json.dumps(record, ensure_ascii=False, default=str)


def write_jsonl_atomic(path: Path, records: Iterable[BaseModel | dict[str, Any]]) -> int:
    """Replace ``path`` with one JSON line per record (see :func:`replace_atomically`)."""
    count = 0

    def write(f: TextIO) -> None:
        nonlocal count
        for r in records:
            f.write(_dumps(r) + "\n")
            count += 1

    replace_atomically(path, write)
    return count


def write_text_atomic(path: Path, text: str) -> None:
    replace_atomically(path, lambda f: f.write(text))


def append_jsonl(path: Path, records: Iterable[BaseModel | dict[str, Any]]) -> None:
    """Append whole lines and fsync: a crash loses at most a partial last line,
    which :func:`iter_jsonl_dicts` skips."""
    path = Path(path)
    data = "".join(_dumps(r) + "\n" for r in records)
    if not data:
        return
    check_may_write(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        # a previous crash may have left a partial line without "\n": start fresh
        if f.tell() > 0:
            with open(path, "rb") as rf:
                rf.seek(-1, os.SEEK_END)
                if rf.read(1) != b"\n":
                    f.write("\n")
        if write_hook is not None:  # tests: a crash in the middle of the append
            f.write(data[: len(data) // 2])
            f.flush()
            write_hook("append", path)
            data = data[len(data) // 2 :]
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
