"""The ``digest`` command.  Commands only parse arguments, build settings and call
one function of their stage; every command lives in a small module of this package."""

from __future__ import annotations

import gc
import importlib
import logging
import sys

import click

from ..errors import DigestError, Interrupted
from ..logsafe import install_redaction
from .output import ARGV_KEY, interrupted, own_process

# command -> the module of this package that defines it (in its COMMANDS).  A command's
# module is imported only when that command runs: `digest search` does not pay for the LLM
# stages' imports.  tests/cli/test_help_and_completion.py checks this table against the modules.
COMMANDS_IN = {
    "config": "core",
    "parse": "core",
    "mock-llm": "llm",
    "models": "llm",
    "doctor": "doctor",
    "translate": "translate",
    "glossary": "translate",
    "enrich": "enrich",
    "index": "retrieval",
    "eval": "retrieval",
    "search": "search",
    "ask": "ask",
    "newsletter": "newsletter",
    "serve": "serve",
    "batch": "batch",
    "run": "run",
    "keys": "keys",
    "logs": "logs",
    "completion": "completion",
    "check": "check",
}


# Python's default collects young objects every 700 allocations: a bulk job (reading tens of
# thousands of records, building an index) spent about a tenth of its time in collections
# that freed next to nothing.  Every 50,000 (BENCHMARKS.md, "Scale").
GC_THRESHOLD = (50_000, 20, 10)


class DigestGroup(click.Group):
    """Turns a DigestError into one clean line on stderr and its exit code; Ctrl-C into an
    honest line and exit 130 (``output.long_running``: a second Ctrl-C exits at once)."""

    def __call__(self, *args: object, **kwargs: object) -> object:
        own_process()  # `digest` / `python -m pipeline` (a test's CliRunner calls main())
        gc.set_threshold(*GC_THRESHOLD)
        try:
            return super().__call__(*args, **kwargs)
        finally:
            # the process ends next, and Python's last collection would walk every object
            # still alive (the libraries' modules and caches) to free next to nothing: 0.7 s
            # of a daily `digest index` at 10,000 entries (BENCHMARKS.md, "Scale")
            gc.freeze()

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self.commands) | set(COMMANDS_IN))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS_IN:
            self._load(COMMANDS_IN[cmd_name])
        return self.commands.get(cmd_name)

    def load_all(self) -> dict[str, click.Command]:
        """Every command (help listings, tests that walk the command tree)."""
        for module in dict.fromkeys(COMMANDS_IN.values()):
            self._load(module)
        return self.commands

    def _load(self, module: str) -> None:
        for cmd in getattr(importlib.import_module(f"{__name__}.{module}"), "COMMANDS", ()):
            self.add_command(cmd)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta[ARGV_KEY] = list(args)  # for "to resume, run again: digest ..."
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context):  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except Interrupted as exc:
            interrupted(str(exc))
        except DigestError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            interrupted("interrupted: what was journaled before the interrupt is kept")
        except OSError as exc:  # unwritable --out, disk full, permission denied...
            logging.getLogger(__name__).debug("OS error", exc_info=True)
            where = f": {exc.filename}" if exc.filename else ""
            click.echo(f"error: {exc.strerror or exc}{where}", err=True)
            sys.exit(1)


@click.group(cls=DigestGroup)
@click.version_option(package_name="digest")
@click.option("-v", "--verbose", count=True, help="More logging (-vv for debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors.")
@click.pass_context
def main(ctx: click.Context, verbose: int, quiet: bool) -> None:
    """Korean AI-paper digests -> an English knowledge base: parse, translate,
    enrich, index, search, ask, newsletter."""
    level = logging.WARNING if quiet else (logging.DEBUG if verbose > 1 else logging.INFO)
    setup_logging(level)
    ctx.ensure_object(dict)


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is now (so test runners capture it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self):  # noqa: D401
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:  # the base class assigns it; ignore
        pass


def setup_logging(level: int) -> None:
    root = logging.getLogger()
    if not any(getattr(h, "_digest", False) for h in root.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        handler._digest = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(level)
    for noisy in (
        "httpx",
        "httpx2",
        "httpcore",
        "openai",
        "chromadb",
        "sentence_transformers",
        "urllib3",
        "bm25s",
        "transformers",
        "kiwipiepy",
    ):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
    install_redaction()
