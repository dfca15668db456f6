"""CLI command: search."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click

from ..taxonomy import Topic
from .options import build_settings, config_option, endpoint_options, out_option
from .present import SEARCH_FORMATS, render_hits, terminal_width, weak_match_note
from .retrieval import chroma_option
from .serve import server_options


def _date(value: datetime | None) -> Any:
    return value.date() if value else None


@click.command("search")
@click.argument("query")
@click.option("-k", "k", type=click.IntRange(min=1), default=None, help="Number of results (default 10).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(SEARCH_FORMATS),
    default=None,
    help="table (default: full titles wrapped to the terminal, unwrapped when piped), json, jsonl or md.",
)
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@click.option(
    "--since",
    type=click.DateTime(["%Y-%m-%d"]),
    metavar="YYYY-MM-DD",
    default=None,
    help="Only digests from this date.",
)
@click.option(
    "--until",
    type=click.DateTime(["%Y-%m-%d"]),
    metavar="YYYY-MM-DD",
    default=None,
    help="Only digests up to this date.",
)
@click.option(
    "--topic",
    type=click.Choice([t.value for t in Topic], case_sensitive=False),
    metavar="TOPIC",
    default=None,
    help="Only entries of this topic (from enrich): " + ", ".join(t.value for t in Topic) + ".",
)
@click.option("--min-votes", type=int, default=None, help="Only entries with at least this many votes.")
@click.option(
    "--translate/--no-translate",
    default=None,
    help="Also search the LLM's translation of the query (cached; default: search.translate).",
)
@config_option
@out_option
@chroma_option
@endpoint_options
@server_options
def search_cmd(
    query: str,
    k: int | None,
    fmt: str | None,
    as_json: bool,
    since: datetime | None,
    until: datetime | None,
    topic: str | None,
    min_votes: int | None,
    translate: bool | None,
    chroma_url: str | None,
    server_url: str | None,
    no_server: bool,
    **opts: Any,
) -> None:
    """Hybrid search (vectors + English and Korean BM25) in English or Korean; no LLM.

    Each result: the full title, date, votes, topic, how well it matches the query, the
    arXiv link and the TL;DR.  A note on stderr says when even the best result is a weak
    match (below search.min_relevance).  A running `digest serve` answers it when there is
    one (see --server)."""
    from ..serve.client import server_for

    if as_json and fmt not in (None, "json"):
        raise click.UsageError("--json is --format json: give one of them")
    if server_url and no_server:
        raise click.UsageError("--server and --no-server: give one of them")
    settings = build_settings(**opts, index={"chroma_url": chroma_url})
    params = {"k": k, "since": _date(since), "until": _date(until), "topic": topic, "min_votes": min_votes}
    wants_translation = settings.search.translate if translate is None else translate
    # the search server does not translate queries: a translated search runs here
    server = None if wants_translation else server_for(settings, server_url, use_server=not no_server)
    if server is not None:
        hits = server.search(query, **params)
    else:
        from ..retrieval.searcher import search

        hits = search(settings, query, **params, translate=translate)
    fmt = fmt or ("json" if as_json else "table")
    click.echo(render_hits(hits, fmt, terminal_width() if fmt == "table" else None), nl=False)
    note = weak_match_note(hits, settings.search.min_relevance)
    if note:
        click.echo(note, err=True)


COMMANDS = [search_cmd]
