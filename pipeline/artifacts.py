"""JSONL artifacts: read, append (durable), atomic rewrite, content hashes, the cache, the lock."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from .errors import LockError

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


def _mkstemp_beside(path: Path) -> tuple[int, str]:
    """A temp file in the target's folder with normal permissions (mkstemp makes 0600)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.fchmod(fd, _FILE_MODE)
    return fd, tmp


def _dumps(record: BaseModel | dict[str, Any]) -> str:
    if isinstance(record, BaseModel):
        return record.model_dump_json()
    return json.dumps(record, ensure_ascii=False, default=str)


def write_jsonl_atomic(path: Path, records: Iterable[BaseModel | dict[str, Any]]) -> int:
    """Write all records to a temp file in the same folder, fsync, then rename over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    fd, tmp = _mkstemp_beside(path)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            for r in records:
                f.write(_dumps(r) + "\n")
                n += 1
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return n


def write_text_atomic(path: Path, text: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _mkstemp_beside(path)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def append_jsonl(path: Path, records: Iterable[BaseModel | dict[str, Any]]) -> None:
    """Append whole lines and fsync: a crash loses at most a partial last line,
    which :func:`iter_jsonl` skips."""
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


class JsonlCache:
    """An append-only key -> value store on a JSONL file.

    It is the journal that makes long stages resumable: each result is appended
    (and fsynced) as soon as it is produced; a re-run finds it by key.
    The last value written for a key wins.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self._data: dict[str, Any] = {}
        for d in iter_jsonl_dicts(self.path):
            if isinstance(d, dict) and "key" in d:
                self._data[d["key"]] = d.get("value")

    def __contains__(self, key: str) -> bool:
        return key in self._data

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key: str, default: Any = None) -> Any:
        return self._data.get(key, default)

    def put(self, key: str, value: Any) -> None:
        self.put_many({key: value})

    def put_many(self, items: dict[str, Any]) -> None:
        if not items:
            return
        append_jsonl(self.path, [{"key": k, "value": v} for k, v in items.items()])
        self._data.update(items)

    def compact(self) -> None:
        write_jsonl_atomic(self.path, [{"key": k, "value": v} for k, v in self._data.items()])


_HELD_LOCKS: dict[str, int] = {}
_HELD_GUARD = __import__("threading").Lock()


@contextlib.contextmanager
def output_lock(out_dir: Path, wait: bool = False) -> Iterator[None]:
    """Hold an exclusive lock on ``out_dir`` for one run.  A second run is refused
    with a clear message (or waits, with ``wait=True``).  Re-entrant within one
    process, so ``digest run`` can hold it while each stage takes it too."""
    import fcntl

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    key = str(out_dir.resolve())
    with _HELD_GUARD:
        if key in _HELD_LOCKS:
            _HELD_LOCKS[key] += 1
            reentered = True
        else:
            reentered = False
    if reentered:
        try:
            yield
        finally:
            with _HELD_GUARD:
                _HELD_LOCKS[key] -= 1
        return
    lock_path = out_dir / ".digest.lock"
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        flags = fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB
        try:
            fcntl.flock(fd, flags)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            raise LockError(
                f"{out_dir} is in use by another digest run (pid {holder}); "
                "wait for it to finish or use another --out folder"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        with _HELD_GUARD:
            _HELD_LOCKS[key] = 1
        try:
            yield
        finally:
            with _HELD_GUARD:
                _HELD_LOCKS.pop(key, None)
    finally:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
