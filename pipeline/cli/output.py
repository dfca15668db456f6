"""How a command ends: the stage's summary, what is left with the exact command to resume,
and the exit status; and the Ctrl-C handling every command shares."""

from __future__ import annotations

import functools
import os
import shlex
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NoReturn

import click

if TYPE_CHECKING:
    from ..stages.base import Report

ARGV_KEY = "digest.argv"  # click context meta: the command line as given
_OWN_PROCESS = threading.Event()  # set when `digest` runs as the program (not in a test's runner)


def own_process() -> None:
    """The CLI runs as the program: after Ctrl-C it may end the process at once."""
    _OWN_PROCESS.set()


def resume_command(ctx: click.Context | None = None) -> str:
    """The command line that was run: running it again resumes (results are journaled)."""
    ctx = ctx or click.get_current_context(silent=True)
    argv = ctx.find_root().meta.get(ARGV_KEY) if ctx is not None else None
    return shlex.join(["digest", *(argv if argv is not None else sys.argv[1:])])


def finish(report: Report, *, extra: Callable[[], None] | None = None) -> NoReturn:
    """Print why the stage failed (if it did), the summary, then (when work is left) what and
    how to resume; exit with the report's status."""
    failure = getattr(report, "failure", "")
    if failure:
        click.echo(f"error: {failure}", err=True)
    click.echo(report.summary())
    if extra is not None:
        extra()
    left = getattr(report, "left", "")
    if left:
        click.echo(f"left: {left} -- to resume, run again: {resume_command()}")
    sys.exit(report.exit_code)


def interrupted(message: str) -> NoReturn:
    """The honest line, then exit 130.  As the program, at once: the workers may be blocked in
    requests for a minute, and tearing the interpreter down takes a second or more; the
    journal is already on disk (fsynced line by line) and the lock goes with the process."""
    click.echo(f"{message} -- to resume, run again: {resume_command()}", err=True)
    if _OWN_PROCESS.is_set():
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        os._exit(130)
    sys.exit(130)


def long_running(f: Callable[..., Any]) -> Callable[..., Any]:
    """For a command that runs LLM stages: a second Ctrl-C exits at once (see :func:`ctrl_c`).
    Interactive commands keep Ctrl-C for cancelling one question."""

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with ctrl_c():
            return f(*args, **kwargs)

    return wrapper


@contextmanager
def ctrl_c() -> Iterator[None]:
    """The first Ctrl-C raises ``KeyboardInterrupt`` (the stage journals what finished, drops
    the requests in flight and exits 130); a second one exits at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def again(signum: int, frame: Any) -> None:
        os.write(2, b"\ninterrupted again: exiting now\n")
        os._exit(130)

    def first(signum: int, frame: Any) -> None:
        signal.signal(signal.SIGINT, again)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, first)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
