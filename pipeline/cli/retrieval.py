"""CLI commands: index, eval retrieval (search and ask: ``search.py``, ``ask.py``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from ..retrieval.base import retriever_names
from ..store.lock import output_lock
from .options import build_settings, config_option, endpoint_options, out_option


def chroma_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--chroma-url",
        default=None,
        help="Chroma server http://HOST:PORT (default: the one `digest index` recorded in OUT/index.json, "
        'else the embedded store in OUT/chroma; "" for the embedded store).',
    )(f)


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
@endpoint_options
def index_cmd(chroma_url: str | None, embedding: str | None, **opts: Any) -> None:
    """Index OUT/entries.jsonl (+ translations, metadata) into Chroma for search and ask.

    The folder remembers where its index is (OUT/index.json): later commands use the same
    Chroma server and embeddings without --chroma-url (--chroma-url "" goes back to the
    embedded store)."""
    from ..stages.index import index_stage

    settings = build_settings(**opts, index={"chroma_url": chroma_url, "embedding": embedding})
    with output_lock(settings.out_dir):
        report = index_stage(settings)
    click.echo(report.summary())


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
@endpoint_options
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

    settings = build_settings(**opts, index={"chroma_url": chroma_url}, memory=memory_file)
    kwargs: dict[str, Any] = {"k": k, "reindex": bool(memory_file)}
    if retrievers:
        kwargs["retrievers"] = tuple(retrievers)
    if memory_file:  # re-indexes: hold the output folder
        with output_lock(settings.out_dir):
            report = evaluate_retrieval(settings, questions_path, **kwargs)
    else:
        report = evaluate_retrieval(settings, questions_path, **kwargs)
    click.echo(report_json(report) if as_json else report.table())


@eval_group.command("answers")
@click.option(
    "--questions",
    "questions_path",
    type=click.Path(path_type=Path),
    required=True,
    help="JSONL with question, arxiv_id (the entry that answers it) and optionally kind.",
)
@click.option(
    "--unanswerable",
    "unanswerable_path",
    type=click.Path(path_type=Path),
    default=None,
    help="JSONL of questions the digests cannot answer (question, optionally kind): the refusal rate.",
)
@click.option("--json", "as_json", is_flag=True, help="JSON output (with the misses).")
@config_option
@out_option
@chroma_option
@endpoint_options
def eval_answers_cmd(
    questions_path: Path,
    unanswerable_path: Path | None,
    as_json: bool,
    chroma_url: str | None,
    **opts: Any,
) -> None:
    """Ask every question through the configured endpoint (--llm, --base-url, --model) and
    report citation precision, recall of the expected entry, number faithfulness and the
    refusal rate on the unanswerable questions, overall and per kind."""
    from ..retrieval.evaluate_answers import answer_report_json, evaluate_answers

    settings = build_settings(**opts, index={"chroma_url": chroma_url})
    report = evaluate_answers(settings, questions_path, unanswerable_path)
    click.echo(answer_report_json(report) if as_json else report.table())


COMMANDS = [index_cmd, eval_group]
