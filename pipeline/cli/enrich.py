"""CLI command: enrich."""

from __future__ import annotations

import click

from .options import (
    batch_option,
    build_settings,
    config_option,
    dry_run_option,
    llm_options,
    max_cost_option,
    out_option,
)
from .output import finish, long_running


@click.command("enrich")
@config_option
@out_option
@llm_options
@click.option(
    "--no-llm", is_flag=True, help="Deterministic fields only (links, numbers, terms); no LLM request."
)
@click.option(
    "--schema", "show_schema", is_flag=True, help="Print the JSON schema of a metadata record and exit."
)
@dry_run_option
@batch_option
@max_cost_option
@long_running
def enrich_cmd(no_llm: bool, show_schema: bool, dry_run: bool, use_batch: bool, **opts: object) -> None:
    """Add structured English metadata to every entry: OUT/metadata.jsonl.

    TL;DR, topic, tasks, methods, datasets, benchmarks, metrics, key results, model
    sizes and keywords come from the LLM; arXiv id, votes, authors, code / project /
    dataset links, numbers and English terms are extracted without it.
    """
    from ..batch.orchestrator import submit_stage
    from ..stages.enrich import enrich_stage
    from ..stages.enrich.schema import metadata_schema_text

    if show_schema:
        click.echo(metadata_schema_text(), nl=False)
        return
    if use_batch and no_llm:
        raise click.UsageError("--batch sends LLM requests; it cannot be combined with --no-llm")
    settings = build_settings(**opts)  # type: ignore[arg-type]
    if use_batch and not dry_run:
        report = submit_stage(settings, "enrich")
    else:
        report = enrich_stage(settings, use_llm=not no_llm, dry_run=dry_run)
    finish(report)


COMMANDS = [enrich_cmd]
