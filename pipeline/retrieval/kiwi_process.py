"""Korean analysis in a process of its own, started as ``digest index`` begins.

Loading Kiwi's model takes 1.5 s, all of it holding the GIL, so a thread cannot hide it.
A child process loads it while the index reads its inputs, builds its documents and updates
Chroma, on the machine's other core; by the time the lexical index wants new texts
analysed, Kiwi is ready.  The child runs ``lexical.py``'s own functions and returns their
results, so what the index stores does not depend on where Kiwi ran:

- ``analyse``: :func:`lexical.analyse_ko_many` (each text's tokens, the word forms counted);
- ``tokenize``: :func:`lexical.tokenize_ko` of each text.

The child runs ``kiwi_child.py``; it speaks JSON lines on its stdin and stdout (``{"op": ..., "texts": [...]}`` in, the result
or ``{"error": ...}`` out).  ``lexical.py`` asks it while :func:`kiwi_in_background` is
active.  Should the child fail to start or die, it says so once, and from then on the
caller analyses in its own process.
"""

from __future__ import annotations

import contextlib
import json
import logging
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

log = logging.getLogger(__name__)

CHILD = "pipeline.retrieval.kiwi_child"  # the module the child process runs


class KiwiProcess:
    """The child process, asked one request at a time (thread-safe)."""

    def __init__(self, options: dict[str, Any]) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        try:
            self._proc = subprocess.Popen(
                # -P: the working directory is not put first on the path, so a folder named
                # "pipeline" where digest runs cannot stand in for this package
                [sys.executable, "-P", "-m", CHILD, json.dumps(options)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
        except OSError as exc:
            log.warning("Kiwi could not start in a process of its own (%s): analysing here", exc)

    @property
    def alive(self) -> bool:
        return self._proc is not None

    def ask(self, op: str, texts: list[str]) -> Any:
        """The child's result of ``op`` over ``texts``; None once the child has failed (the
        caller then does the work itself)."""
        with self._lock:
            if self._proc is None:
                return None
            try:
                return self._request(op, texts)
            except (OSError, ValueError, RuntimeError) as exc:
                log.warning("Kiwi's process failed (%s): analysing here", exc)
                self._stop()
                return None

    def _request(self, op: str, texts: list[str]) -> Any:
        proc = self._proc
        assert proc is not None and proc.stdin is not None and proc.stdout is not None
        request = json.dumps({"op": op, "texts": texts}, ensure_ascii=False)
        proc.stdin.write(request.encode("utf-8") + b"\n")
        proc.stdin.flush()
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"it exited with code {proc.wait()}")
        reply = json.loads(line)
        if isinstance(reply, dict) and "error" in reply:
            raise RuntimeError(str(reply["error"]))
        return reply

    def _stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        with contextlib.suppress(OSError):
            proc.kill()  # it may be loading still: nothing of it is needed any more
        proc.wait()
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()

    def close(self) -> None:
        with self._lock:
            self._stop()


_current: KiwiProcess | None = None


def current() -> KiwiProcess | None:
    """The child of the active :func:`kiwi_in_background`, if any."""
    return _current


def ask(op: str, texts: list[str]) -> Any:
    """The active child's result of ``op`` over ``texts``; None with no child, or once it has
    failed (the caller then analyses in its own process)."""
    return _current.ask(op, texts) if _current is not None else None


@contextlib.contextmanager
def kiwi_in_background(options: dict[str, Any]) -> Iterator[KiwiProcess]:
    """Start a child loading Kiwi with ``options``; within the block, ``lexical.py`` asks it
    to analyse.  The child is stopped on the way out."""
    global _current
    kiwi = KiwiProcess(options)
    previous, _current = _current, kiwi
    try:
        yield kiwi
    finally:
        _current = previous
        kiwi.close()
