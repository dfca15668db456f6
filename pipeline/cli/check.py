"""CLI command: check (do the records of an output folder agree with each other?)."""

from __future__ import annotations

import sys

import click

from .options import build_settings, config_option, out_option


@click.command("check")
@config_option
@out_option
def check_cmd(**opts: object) -> None:
    """Check that entries, translations, metadata and index documents in OUT agree (ids, source
    hashes, dates, votes, topics) and that no interrupted write left a temp file.  Exit 3 on a
    problem; stale artifacts (a later stage is due) are notes."""
    from ..store.consistency import check_folder

    settings = build_settings(**opts)  # type: ignore[arg-type]
    report = check_folder(settings.out_dir)
    click.echo(report.summary())
    sys.exit(report.exit_code)


COMMANDS = [check_cmd]
