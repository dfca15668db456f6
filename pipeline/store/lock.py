"""One run at a time per output folder: an exclusive ``flock`` on ``OUT/.digest.lock``.

The lock file names its holder: the pid of a run, or ``<pid> serve`` while ``digest serve``
holds the folder (it reads the indexes for its whole life, so no run may rewrite them)."""

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
def output_lock(out_dir: Path, wait: bool = False, holder: str = "") -> Iterator[None]:
    """Hold an exclusive lock on ``out_dir`` for one run.  A second run is refused
    with a clear message (or waits, with ``wait=True``).  Re-entrant within one
    process, so ``digest run`` can hold it while each stage takes it too.  ``holder``
    names a holder other than a run (``"serve"``) in the lock file and in the refusals."""
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
            raise LockError(_refusal(out_dir, os.pread(fd, 64, 0).decode(errors="replace"))) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {holder}".strip().encode(), 0)
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


def _refusal(out_dir: Path, content: str) -> str:
    pid, _, holder = content.strip().partition(" ")
    if holder == "serve":
        return (
            f"{out_dir} is in use by `digest serve` (pid {pid}), which reads it: stop the server "
            "(Ctrl-C) to change the folder, or use another --out folder"
        )
    return (
        f"{out_dir} is in use by another digest run (pid {pid or 'unknown'}); "
        "wait for it to finish or use another --out folder"
    )
