"""CLI commands: translate, glossary."""

from __future__ import annotations

from pathlib import Path

import click

from .options import (
    batch_option,
    build_settings,
    config_option,
    dry_run_option,
    llm_options,
    max_cost_option,
    memory_option,
    out_option,
)
from .output import finish, long_running


@click.command("translate")
@config_option
@out_option
@llm_options
@memory_option
@click.option(
    "--glossary",
    "glossary_file",
    type=click.Path(path_type=Path),
    default=None,
    help="Glossary TSV (korean<TAB>english); default OUT/glossary.tsv, seeded from the digests.",
)
@dry_run_option
@batch_option
@max_cost_option
@long_running
def translate_cmd(
    memory_file: tuple[Path, ...],
    glossary_file: Path | None,
    dry_run: bool,
    use_batch: bool,
    **opts: object,
) -> None:
    """Translate every section of OUT/entries.jsonl into OUT/translations.jsonl."""
    from ..batch.orchestrator import submit_stage
    from ..stages.translate import translate_stage

    settings = build_settings(
        **opts,
        memory=memory_file,
        translate={"glossary_file": glossary_file},  # type: ignore[arg-type]
    )
    report = (
        submit_stage(settings, "translate")
        if use_batch and not dry_run
        else translate_stage(settings, dry_run=dry_run)
    )
    finish(report)


@click.command("glossary")
@config_option
@out_option
@click.option(
    "--glossary",
    "glossary_file",
    type=click.Path(path_type=Path),
    default=None,
    help="Glossary TSV (default OUT/glossary.tsv).",
)
@click.option(
    "--rebuild",
    is_flag=True,
    help="Mine the digests again and add new terms (your edits and disabled entries are kept).",
)
def glossary_cmd(glossary_file: Path | None, rebuild: bool, **opts: object) -> None:
    """Show the glossary (creating it from the digests if missing), or update it."""
    from ..stages.translate.glossary import glossary_stage

    settings = build_settings(**opts, translate={"glossary_file": glossary_file})  # type: ignore[arg-type]
    update = glossary_stage(settings, rebuild=rebuild)
    for ko, en in sorted(update.glossary.entries.items()):
        click.echo(f"{ko}\t{en}")
    click.echo(update.summary(), err=True)


COMMANDS = [translate_cmd, glossary_cmd]
