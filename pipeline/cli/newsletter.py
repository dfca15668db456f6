"""CLI command: newsletter."""

from __future__ import annotations

from datetime import date as Date
from datetime import datetime

import click

from ..stages.newsletter.formats import FORMATS
from .options import build_settings, config_option, llm_options, max_cost_option, out_option
from .output import finish, long_running

_DATE = click.DateTime(formats=["%Y-%m-%d"])


def _day(value: datetime | None) -> Date | None:
    return value.date() if value is not None else None


def _formats(value: tuple[str, ...]) -> list[str] | None:
    out = [f.strip() for v in value for f in v.split(",") if f.strip()]
    return out or None


@click.command("newsletter")
@config_option
@out_option
@llm_options
@click.option(
    "--date",
    "day",
    type=_DATE,
    default=None,
    metavar="YYYY-MM-DD",
    help="Digest date (YYYY-MM-DD); default: the latest.",
)
@click.option(
    "--since",
    type=_DATE,
    default=None,
    metavar="YYYY-MM-DD",
    help="First digest date of a range (inclusive).",
)
@click.option(
    "--until", type=_DATE, default=None, metavar="YYYY-MM-DD", help="Last digest date of a range (inclusive)."
)
@click.option(
    "--format",
    "formats",
    multiple=True,
    metavar=",".join(FORMATS),
    help="Output formats, comma-separated or repeated (default: settings.newsletter.formats).",
)
@click.option("--intro/--no-intro", default=None, help="Write (or skip) the short LLM-written intro.")
@click.option("--top", "top_n", type=click.IntRange(min=0), default=None, help="Papers in 'Top papers'.")
@max_cost_option
@long_running
def newsletter_cmd(
    day: datetime | None,
    since: datetime | None,
    until: datetime | None,
    formats: tuple[str, ...],
    intro: bool | None,
    top_n: int | None,
    **opts: object,
) -> None:
    """Write an English newsletter (Markdown, HTML, RSS) for one digest date or a range.

    Files go to OUT/newsletter/, e.g. digest-2024-10-21.md/.html/.xml, or
    digest-2024-10-21_2024-10-22.* for a range.  Papers missing a translation or
    metadata still appear, marked as pending.
    """
    from ..stages.newsletter.stage import newsletter_stage

    settings = build_settings(
        **opts,  # type: ignore[arg-type]
        newsletter={"formats": _formats(formats), "intro": intro, "top_n": top_n},
    )
    report = newsletter_stage(settings, date=_day(day), since=_day(since), until=_day(until))

    def paths() -> None:
        for path in report.paths:
            click.echo(f"  {path}")
        if report.feed_path is not None:
            click.echo(f"  {report.feed_path}  (the latest {report.feed_items} papers)")

    finish(report, extra=paths)


COMMANDS = [newsletter_cmd]
