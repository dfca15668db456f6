"""One writer at a time per output folder: an exclusive ``flock`` on ``OUT/.digest.lock``.

- :func:`output_lock` takes it (re-entrant within one process, so ``digest run`` holds it
  while each stage takes it too); a second process is refused with exit 5, "in use by".
- :func:`writes_output` is the decorator every stage entry point that writes uses.
- :func:`check_may_write` is what makes it structural: the store's write primitives call it
  before every write, and it refuses a write inside a folder that has a lock file this
  process does not hold.  A command that forgets the lock fails at its first write (a bug
  the tests catch) instead of writing beside another run.
- Taking the lock removes the temp files a killed writer left behind (no writer is running
  then), so a re-run after a crash leaves the folder as a clean run would.
- The lock file names its holder: the pid of a run, or ``<pid> serve`` while ``digest serve``
  holds the folder (it reads the indexes for its whole life, so no run may rewrite them).
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import logging
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from ..errors import LockError
from .layout import LOCK, OutDir

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

_HELD_LOCKS: dict[str, int] = {}
_HELD_GUARD = threading.Lock()
TEMP_PREFIX, TEMP_SUFFIX = ".", ".tmp"  # the atomic writer's temp files: ".<name>.<random>.tmp"


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
            remove_stale_temp_files(out_dir)
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


def writes_output(fn: F) -> F:
    """Decorate a stage entry point ``fn(settings, ...)`` that writes ``settings.out_dir``:
    it runs holding :func:`output_lock`."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        settings = kwargs["settings"] if "settings" in kwargs else args[0]
        with output_lock(settings.out_dir):
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def holds_lock(path: Path) -> bool:
    """Does this process hold the lock of a folder that contains ``path`` (or is it)?"""
    with _HELD_GUARD:
        held = list(_HELD_LOCKS)
    if not held:
        return False
    target = Path(path).resolve()
    return any(target == Path(h) or Path(h) in target.parents for h in held)


def check_may_write(path: Path) -> None:
    """Refuse (``LockError``) a write to ``path`` inside an output folder (a folder holding
    the lock file) whose lock this process does not hold.  Paths outside any output folder
    are free (the user's own files, test fixtures)."""
    target = Path(path).resolve()
    with _HELD_GUARD:
        held = set(_HELD_LOCKS)
    for folder in target.parents:
        if str(folder) in held:
            return
        if (folder / LOCK).exists():
            raise LockError(
                f"refusing to write {path}: {folder} is an output folder and this process does not "
                "hold its lock (a command that writes must run inside output_lock)"
            )


def remove_stale_temp_files(out_dir: Path) -> int:
    """Delete the atomic writer's temp files under ``out_dir`` (left by a killed run; the
    caller holds the lock, so no writer is running).  Returns how many."""
    removed = 0
    for root, _dirs, files in os.walk(out_dir):
        for name in files:
            if name.startswith(TEMP_PREFIX) and name.endswith(TEMP_SUFFIX):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(root, name))
                    removed += 1
    if removed:
        log.info("%s: removed %d temp file(s) left by an interrupted run", out_dir, removed)
    return removed
