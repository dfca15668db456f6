"""The question loop of ``digest ask`` without a question.

On a terminal: line editing and history (readline; the history file lives in the user
dir), Ctrl-C cancels the question being typed or answered and returns to the prompt,
Ctrl-D or ``exit`` leaves (exit status 0).  From a pipe: one question per line, no prompt.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path

import click

from ..errors import ConfigError, DigestError

log = logging.getLogger(__name__)

PROMPT = "question (exit to quit)> "
EXIT_WORDS = ("exit", "quit", ":q")
HISTORY_LENGTH = 1000


class _History:
    """readline with the history file; a no-op where readline is missing (Windows)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        try:
            import readline
        except ImportError:  # pragma: no cover - no readline on this platform
            self.readline = None
            return
        self.readline = readline
        readline.set_history_length(HISTORY_LENGTH)
        if path is not None and path.is_file():
            with contextlib.suppress(OSError):
                readline.read_history_file(str(path))

    def save(self) -> None:
        if self.readline is None or self.path is None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            self.readline.write_history_file(str(self.path))
            os.chmod(self.path, 0o600)  # past questions are private
        except OSError as exc:
            log.warning("could not save the question history to %s: %s", self.path, exc.strerror or exc)


def _read_line(mode: str) -> str | None:
    """The next line, or None at the end (Ctrl-D, end of the pipe)."""
    if mode == "readline":
        try:
            return input(PROMPT)
        except EOFError:
            click.echo(err=True)
            return None
    if mode == "tty":
        click.echo(PROMPT, nl=False, err=True)
    line = sys.stdin.readline()
    return line if line else None


def question_loop(answer: Callable[[str], None], *, history_file: Path | None, after: str = "\n") -> None:
    """Ask ``answer`` each question read until Ctrl-D / ``exit`` / the end of the input."""
    # readline writes its prompt to stdout: only when stdout is the terminal too
    mode = ("readline" if sys.stdout.isatty() else "tty") if sys.stdin.isatty() else "pipe"
    history = _History(history_file) if mode == "readline" else None
    try:
        while True:
            try:
                line = _read_line(mode)
            except KeyboardInterrupt:  # Ctrl-C while typing: drop the line, prompt again
                click.echo("^C" if mode != "readline" else "", err=True)
                if mode == "pipe":
                    raise
                continue
            if line is None:
                break
            question = line.strip()
            if not question:
                continue
            if question.lower() in EXIT_WORDS:
                break
            try:
                answer(question)
            except KeyboardInterrupt:  # Ctrl-C while answering: cancel this question only
                click.echo("\n(cancelled)", err=True)
                if mode == "pipe":
                    raise
                continue
            except ConfigError:
                raise  # a wrong key or model fails every question alike
            except DigestError as exc:  # this question failed; the next may not
                click.echo(f"error: {exc}", err=True)
                continue
            if after:
                click.echo(after, nl=False)
    finally:
        if history is not None:
            history.save()
