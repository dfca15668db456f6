"""CLI command: run (the whole pipeline)."""

from __future__ import annotations

from pathlib import Path

import click

from ..stages import PIPELINE
from .options import (
    build_settings,
    config_option,
    llm_options,
    max_cost_option,
    memory_option,
    out_option,
)
from .output import finish, long_running
from .retrieval import chroma_option


@click.command("run")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@config_option
@out_option
@llm_options
@memory_option
@chroma_option
@max_cost_option
@click.option(
    "--skip",
    multiple=True,
    type=click.Choice(PIPELINE[1:]),
    help="Skip a stage (repeatable).",
)
@click.option("--strict", is_flag=True, help="Stop after parse with exit 3 on any parse problem (for CI).")
@long_running
def run_cmd(
    paths: tuple[Path, ...],
    memory_file: tuple[Path, ...],
    chroma_url: str | None,
    skip: tuple[str, ...],
    strict: bool,
    **opts: object,
) -> None:
    """Parse, translate, enrich, index and write newsletters for PATHS (default: seeds/)."""
    from ..stages.run import run_all

    settings = build_settings(memory=memory_file, index={"chroma_url": chroma_url}, **opts)  # type: ignore[arg-type]
    report = run_all(settings, list(paths) or [Path("seeds")], skip=skip, strict=strict)
    finish(report)


COMMANDS = [run_cmd]
