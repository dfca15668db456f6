"""CLI commands: config, parse."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ..settings import explained_dump, masked_dump
from .options import build_settings, config_option, llm_options, out_option


@click.command("config")
@config_option
@out_option
@llm_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of TOML-like text.")
@click.option(
    "--show-origin",
    is_flag=True,
    help="Each value with where it came from: command line, env VAR, .env, a config file, "
    "the keys file, or default.",
)
def config_cmd(as_json: bool, show_origin: bool, **opts: object) -> None:
    """Print the effective settings (secrets masked).

    Highest first: flags, environment variables, ./.env, the project's digest.toml (or
    --config), the user's config.toml (in the user dir), the keys file (`digest keys`,
    API keys only), the index location the output folder recorded, the defaults."""
    settings = build_settings(**opts)  # type: ignore[arg-type]
    if show_origin:
        _show_origins(settings, as_json)
        return
    data = masked_dump(settings)
    if as_json:
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    import tomli_w

    def clean(d: object) -> object:
        if isinstance(d, dict):
            return {k: clean(v) for k, v in d.items() if v is not None}
        return d

    click.echo(tomli_w.dumps(clean(data)), nl=False)  # type: ignore[arg-type]


def _show_origins(settings: object, as_json: bool) -> None:
    rows = explained_dump(settings)  # type: ignore[arg-type]
    if as_json:
        data = {key: {"value": value, "origin": origin} for key, value, origin in rows}
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    shown = [(f"{key} = {json.dumps(value, ensure_ascii=False)}", origin) for key, value, origin in rows]
    width = min(70, max(len(text) for text, _ in shown))
    for text, origin in shown:
        click.echo(f"{text.ljust(width)}  # {origin}")


@click.command("parse")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@config_option
@out_option
@click.option("--strict", is_flag=True, help="Exit 3 on any problem, warnings included (for CI).")
def parse_cmd(paths: tuple[Path, ...], strict: bool, **opts: object) -> None:
    """Parse digest files (default: seeds/) into OUT/entries.jsonl."""
    from ..stages.parse import parse_stage

    settings = build_settings(**opts)  # type: ignore[arg-type]
    report = parse_stage(settings, list(paths) or [Path("seeds")], strict=strict)
    click.echo(report.summary())
    sys.exit(report.exit_code)


COMMANDS = [config_cmd, parse_cmd]
