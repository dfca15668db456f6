"""CLI commands: index, search, ask, eval retrieval."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from ..retrieval.base import retriever_names
from ..store.lock import output_lock
from ..taxonomy import Topic
from .options import build_settings, config_option, llm_options, memory_setting, out_option


def chroma_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--chroma-url",
        default=None,
        help="Chroma server http://HOST:PORT (default: embedded store in OUT/chroma).",
    )(f)


def _date(value: datetime | None) -> Any:
    return value.date() if value else None


@click.command("index")
@config_option
@out_option
@chroma_option
@click.option(
    "--embedding",
    type=click.Choice(["local", "endpoint"]),
    default=None,
    help="Offline all-MiniLM-L6-v2 (default) or the endpoint's embedding model.",
)
@llm_options
def index_cmd(chroma_url: str | None, embedding: str | None, **opts: Any) -> None:
    """Index OUT/entries.jsonl (+ translations, metadata) into Chroma for search and ask."""
    from ..stages.index import index_stage

    settings = build_settings(**opts, index={"chroma_url": chroma_url, "embedding": embedding})
    with output_lock(settings.out_dir):
        report = index_stage(settings)
    click.echo(report.summary())


@click.command("search")
@click.argument("query")
@click.option("-k", "k", type=click.IntRange(min=1), default=None, help="Number of results (default 10).")
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
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
@config_option
@out_option
@chroma_option
def search_cmd(
    query: str,
    k: int | None,
    as_json: bool,
    since: datetime | None,
    until: datetime | None,
    topic: str | None,
    min_votes: int | None,
    chroma_url: str | None,
    **opts: Any,
) -> None:
    """Hybrid search (vectors + English and Korean BM25) in English or Korean; no LLM."""
    from ..retrieval.searcher import search

    settings = build_settings(**opts, index={"chroma_url": chroma_url})
    hits = search(
        settings, query, k=k, since=_date(since), until=_date(until), topic=topic, min_votes=min_votes
    )
    if as_json:
        click.echo(json.dumps([h.model_dump(mode="json") for h in hits], ensure_ascii=False, indent=2))
        return
    if not hits:
        click.echo("no results")
        return
    click.echo(f"{'#':>2}  {'arXiv':<12} {'date':<10} {'votes':>5}  {'score':>6}  title")
    for i, h in enumerate(hits, 1):
        title = h.title if len(h.title) <= 70 else h.title[:69] + "…"
        votes = "" if h.votes is None else str(h.votes)
        click.echo(
            f"{i:>2}  {h.arxiv_id or h.entry_id:<12} {str(h.date or ''):<10} {votes:>5}  {h.score:6.4f}  {title}"
        )


def _print_answer(answer: Any, streamed: bool) -> None:
    if streamed:
        click.echo()
    else:
        click.echo(answer.answer)
    if answer.citations:
        click.echo("\nSources:")
        for c in answer.citations:
            click.echo(
                f"  [{c.arxiv_id}] {c.title or ''}  https://arxiv.org/abs/{c.arxiv_id}"
                if c.arxiv_id[:1].isdigit()
                else f"  [{c.arxiv_id}] {c.title or ''}"
            )
    if answer.removed_citations:
        click.echo(
            "! removed citations of papers that were not retrieved: " + ", ".join(answer.removed_citations)
        )
    if answer.unsupported_numbers:
        click.echo(
            "! numbers not found in the cited sources (check them): " + ", ".join(answer.unsupported_numbers)
        )
    if streamed and answer.refused:
        click.echo("(no grounded answer)")


@click.command("ask")
@click.argument("question", required=False)
@click.option(
    "--json", "as_json", is_flag=True, help="JSON output: answer, citations, retrieved ids and scores."
)
@click.option(
    "--lang", type=click.Choice(["en", "ko"]), default=None, help="Answer language (default: the question's)."
)
@click.option(
    "-k", "k", type=click.IntRange(min=1), default=None, help="Entries given to the LLM (default 6)."
)
@config_option
@out_option
@chroma_option
@llm_options
def ask_cmd(
    question: str | None, as_json: bool, lang: str | None, k: int | None, chroma_url: str | None, **opts: Any
) -> None:
    """Answer a question from the digests, with [arXiv id] citations.  Without a
    question: read questions line by line from stdin (models loaded once)."""
    from ..retrieval.ask import AskSession

    settings = build_settings(**opts, index={"chroma_url": chroma_url}, ask={"language": lang, "k": k})
    session = AskSession(settings)
    stream = sys.stdout.isatty() and not as_json

    def answer_one(q: str) -> None:
        out = session.ask(q, stream_to=(lambda s: click.echo(s, nl=False)) if stream else None)
        if as_json:
            click.echo(
                json.dumps(answer_json(out), ensure_ascii=False, indent=None if question is None else 2)
            )
        else:
            _print_answer(out, streamed=stream)

    if question is not None:
        answer_one(question)
        return
    interactive = sys.stdin.isatty()
    while True:
        if interactive:
            click.echo("question (exit to quit)> ", nl=False, err=True)
        line = sys.stdin.readline()
        if not line:
            break
        q = line.strip()
        if not q:
            continue
        if q.lower() in ("exit", "quit", ":q"):
            break
        answer_one(q)
        if not as_json:
            click.echo()


def answer_json(answer: Any) -> dict[str, Any]:
    data = answer.model_dump(mode="json")
    data["retrieved"] = [
        {
            "arxiv_id": h.arxiv_id,
            "entry_id": h.entry_id,
            "title": h.title,
            "score": h.score,
            "relevance": h.relevance,
            "ranks": h.ranks,
        }
        for h in answer.retrieved
    ]
    return data


@click.group("eval")
def eval_group() -> None:
    """Evaluate the pipeline against labelled question sets."""


@eval_group.command("retrieval")
@click.option(
    "--questions",
    "questions_path",
    type=click.Path(path_type=Path),
    required=True,
    help="JSONL with question, arxiv_id and optionally kind, lang.",
)
@click.option(
    "--memory",
    "memory_file",
    type=click.Path(path_type=Path),
    multiple=True,
    help="Translation memory: re-index first, using it for sections not yet translated (repeatable).",
)
@click.option("-k", "k", type=click.IntRange(min=1), default=10, show_default=True)
@click.option(
    "--retriever",
    "retrievers",
    multiple=True,
    type=click.Choice(retriever_names()),
    help="Only these retrievers (repeatable; default: all, fused).",
)
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
@config_option
@out_option
@chroma_option
def eval_retrieval_cmd(
    questions_path: Path,
    memory_file: tuple[Path, ...],
    k: int,
    retrievers: tuple[str, ...],
    as_json: bool,
    chroma_url: str | None,
    **opts: Any,
) -> None:
    """Recall@1/5/10 and MRR overall, per kind and per language; latency p50/p95."""
    from ..retrieval.evaluate import evaluate_retrieval, report_json

    settings = build_settings(
        **opts, index={"chroma_url": chroma_url}, translate={"memory_file": memory_setting(memory_file)}
    )
    kwargs: dict[str, Any] = {"k": k, "reindex": bool(memory_file)}
    if retrievers:
        kwargs["retrievers"] = tuple(retrievers)
    if memory_file:  # re-indexes: hold the output folder
        with output_lock(settings.out_dir):
            report = evaluate_retrieval(settings, questions_path, **kwargs)
    else:
        report = evaluate_retrieval(settings, questions_path, **kwargs)
    click.echo(report_json(report) if as_json else report.table())


COMMANDS = [index_cmd, search_cmd, ask_cmd, eval_group]
