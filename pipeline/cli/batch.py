"""CLI commands: batch status, batch collect (the Batch API path of translate and enrich)."""

from __future__ import annotations

import sys

import click

from .options import build_settings, config_option, endpoint_options, llm_options, out_option


@click.group("batch")
def batch_group() -> None:
    """Batch API (half price, done within 24 h): submit with `digest translate --batch` or
    `digest enrich --batch`, then check and collect here."""


@batch_group.command("status")
@config_option
@out_option
@endpoint_options
def status_cmd(**opts: object) -> None:
    """Show each submitted batch: stage, id, status, request counts, age, what is left."""
    from ..batch.orchestrator import batch_status

    report = batch_status(build_settings(**opts))  # type: ignore[arg-type]
    click.echo(report.summary())
    sys.exit(report.exit_code)


@batch_group.command("collect")
@config_option
@out_option
@llm_options
@click.option(
    "--resubmit",
    is_flag=True,
    help="Send failed or expired items to a new batch instead of the online path.",
)
@click.option("--wait", is_flag=True, help="Poll until every batch is finished (or --timeout).")
@click.option("--timeout", type=float, default=3600.0, show_default=True, help="Seconds to --wait.")
@click.option("--poll", type=float, default=30.0, show_default=True, help="Seconds between looks.")
def collect_cmd(resubmit: bool, wait: bool, timeout: float, poll: float, **opts: object) -> None:
    """Download finished batches, cache their results and write the stage outputs.

    Failed items go to the online path (default) or to a new batch (--resubmit).
    Unfinished batches are reported, not waited for (unless --wait).  Safe to repeat."""
    from ..batch.orchestrator import collect

    report = collect(
        build_settings(**opts),  # type: ignore[arg-type]
        resubmit=resubmit,
        wait=wait,
        timeout=timeout,
        poll=poll,
    )
    click.echo(report.summary())
    sys.exit(report.exit_code)


COMMANDS = [batch_group]
