"""Shared by the everyday-use tests: a small indexed output folder, and a terminal (pty)
to drive `digest` as a person would."""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import select
import shutil
import signal
import struct
import sys
import termios
import time
from pathlib import Path

from pipeline.settings import Settings, load_settings
from pipeline.stages.index import index_stage
from pipeline.stages.parse import parse_stage
from tests.paths import FIXTURES, ROOT

# what the CLI needs to find the mock and the endpoint embeddings the folders are built with
ENV = {"DIGEST_LLM__PROVIDER": "mock", "DIGEST_PROGRESS": "off"}


def make_everyday_out(tmp: Path, *, via_cli_index: bool = False) -> Settings:
    """Three entries with long titles, TL;DRs and topics, indexed with the mock's embeddings
    (``index.json`` records them, so later commands need no embedding setting)."""
    shutil.copy(FIXTURES / "everyday_translations.jsonl", tmp / "translations.jsonl")
    shutil.copy(FIXTURES / "everyday_metadata.jsonl", tmp / "metadata.jsonl")
    settings = load_settings(
        out_dir=tmp, progress="off", llm={"provider": "mock"}, index={"embedding": "endpoint"}
    )
    parse_stage(settings, [FIXTURES / "everyday_digest.md"])
    if not via_cli_index:
        index_stage(settings)
    return settings


class Terminal:
    """``python -m pipeline ARGS`` on a pseudo-terminal that is its controlling terminal:
    what is typed reaches it as from a keyboard (Ctrl-C is SIGINT, Ctrl-D end of input) and
    everything it writes (stdout and stderr, as on a screen) is read back."""

    def __init__(self, args: list[str], env: dict[str, str], columns: int = 100) -> None:
        full_env = {**os.environ, **env, "COLUMNS": str(columns), "LINES": "40", "TERM": "xterm"}
        pid, fd = pty.fork()
        if pid == 0:  # the child: its stdin, stdout and stderr are the terminal
            try:
                os.chdir(ROOT)
                os.execve(sys.executable, [sys.executable, "-m", "pipeline", *args], full_env)
            finally:
                os._exit(127)
        self.pid, self.master = pid, fd
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
        self.screen = ""
        self.status: int | None = None

    def _read(self, timeout: float) -> bool:
        """Read what is there; False once the program has closed the terminal."""
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return True
        try:
            chunk = os.read(self.master, 4096)
        except OSError:  # EIO: the program ended
            return False
        if not chunk:
            return False
        self.screen += chunk.decode("utf-8", "replace")
        return True

    def read_until(self, text: str, timeout: float = 120.0) -> str:
        """Everything written until ``text`` appears (after what was read before)."""
        start = len(self.screen)
        deadline = time.monotonic() + timeout
        while text not in self.screen[start:]:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{text!r} did not appear; the screen:\n{self.screen[start:]}")
            if not self._read(min(left, 0.5)):
                raise AssertionError(f"exited before {text!r}; the screen:\n{self.screen[start:]}")
        end = self.screen.index(text, start) + len(text)
        return self.screen[start:end]

    def type(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def wait(self, timeout: float = 60.0) -> int:
        """The exit status, reading the screen meanwhile."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done, status = os.waitpid(self.pid, os.WNOHANG)
            if done:
                while self._read(0.1):
                    pass
                self.status = os.waitstatus_to_exitcode(status)
                return self.status
            self._read(0.2)
        raise AssertionError(f"still running after {timeout}s; the screen:\n{self.screen}")

    def close(self) -> None:
        if self.status is None:
            with contextlib.suppress(ProcessLookupError, ChildProcessError):
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
        with contextlib.suppress(OSError):
            os.close(self.master)
