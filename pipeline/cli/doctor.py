"""CLI command: doctor (what the LLM endpoint supports, and the settings it needs)."""

from __future__ import annotations

import json
import sys

import click

from .options import build_settings, config_option, llm_options, out_option


@click.command("doctor")
@config_option
@out_option
@llm_options
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--refresh", is_flag=True, help="Probe again even when a recent probe is cached.")
def doctor_cmd(as_json: bool, refresh: bool, **opts: object) -> None:
    """Probe the LLM endpoint: models, structured-output modes, system role, context window,
    speed, and the settings to use (exit 0 usable, 2 bad settings, 4 unusable)."""
    from ..llm.doctor import doctor

    report = doctor(build_settings(**opts), refresh=refresh)  # type: ignore[arg-type]
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2, ensure_ascii=False))
    else:
        click.echo(report.summary())
    if report.exit_code and report.error is not None and not as_json:
        click.echo(f"error: {report.error}", err=True)
    sys.exit(report.exit_code)


COMMANDS = [doctor_cmd]
