"""JSONL files: content hashes, the one atomic-replace primitive, durable appends, tolerant reads."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO, TypeVar

from pydantic import BaseModel

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)


def content_hash(*parts: Any, length: int = 16) -> str:
    """Stable sha256 over the JSON of ``parts`` (order matters)."""
    h = hashlib.sha256()
    for p in parts:
        if isinstance(p, BaseModel):
            p = p.model_dump(mode="json")
        if isinstance(p, bytes):
            h.update(p)
        else:
            h.update(json.dumps(p, sort_keys=True, ensure_ascii=False, default=str).encode())
        h.update(b"\x1f")
    return h.hexdigest()[:length]


def file_hash(path: Path, length: int = 16) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:length]


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_current_umask()


def replace_atomically(path: Path, write: Callable[[TextIO], object]) -> None:
    """THE atomic write every writer of this package goes through: ``write`` fills a temp
    file in the target's folder (normal permissions; mkstemp makes 0600), which is flushed,
    fsynced and renamed over ``path``.  On any error the temp file is removed and ``path``
    keeps its old content: a reader sees the old file or the new one, never a mix."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            os.fchmod(f.fileno(), _FILE_MODE)
            write(f)
            f.flush()
            os.fsync(f.fileno())
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
    path.parent.mkdir(parents=True, exist_ok=True)
    data = "".join(_dumps(r) + "\n" for r in records)
    if not data:
        return
    with open(path, "a", encoding="utf-8") as f:
        # a previous crash may have left a partial line without "\n": start fresh
        if f.tell() > 0:
            with open(path, "rb") as rf:
                rf.seek(-1, os.SEEK_END)
                if rf.read(1) != b"\n":
                    f.write("\n")
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def iter_jsonl_dicts(path: Path) -> Iterator[dict[str, Any]]:
    path = Path(path)
    if not path.exists():
        return
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                log.warning("%s:%d: skipping a corrupt line (interrupted write?)", path, lineno)


def read_jsonl(path: Path, model: type[M]) -> list[M]:
    out: list[M] = []
    for d in iter_jsonl_dicts(path):
        try:
            out.append(model.model_validate(d))
        except Exception as exc:  # pydantic.ValidationError
            log.warning("%s: skipping a record that is not a valid %s: %s", path, model.__name__, exc)
    return out
