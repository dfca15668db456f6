"""One run at a time per output folder: an exclusive ``flock`` on ``OUT/.digest.lock``."""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from ..errors import LockError
from .layout import OutDir

_HELD_LOCKS: dict[str, int] = {}
_HELD_GUARD = threading.Lock()


@contextlib.contextmanager
def output_lock(out_dir: Path, wait: bool = False) -> Iterator[None]:
    """Hold an exclusive lock on ``out_dir`` for one run.  A second run is refused
    with a clear message (or waits, with ``wait=True``).  Re-entrant within one
    process, so ``digest run`` can hold it while each stage takes it too."""
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
    fd = os.open(OutDir(out_dir).lock_path, os.O_RDWR | os.O_CREAT, 0o644)
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
