"""CLI command: ask (one question, or a conversation on the terminal or from a pipe)."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from ..text.urls import arxiv_abs_url
from ..userdata.paths import UserDir
from .interactive import question_loop
from .options import build_settings, chat_options, config_option, out_option
from .retrieval import chroma_option
from .serve import server_options


def print_answer(answer: Any, streamed: bool) -> None:
    if streamed:
        click.echo()
    else:
        click.echo(answer.answer)
    if answer.citations:
        click.echo("\nSources:")
        for c in answer.citations:
            url = arxiv_abs_url(c.arxiv_id)
            click.echo(f"  [{c.arxiv_id}] {c.title or ''}" + (f"  {url}" if url else ""))
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


def answer_json(answer: Any) -> dict[str, Any]:
    from ..serve.schema import answer_json as as_json  # the one shape, shared with `digest serve`

    return as_json(answer)


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
@click.option(
    "-c",
    "--continue",
    "continue_last",
    is_flag=True,
    help="Continue the last logged conversation: its questions and answers are context for this one.",
)
@click.option(
    "--cid", "conversation_id", default=None, help="Continue this conversation (ids: `digest logs`)."
)
@click.option("--no-log", is_flag=True, help="Do not keep this question and answer in `digest logs`.")
@config_option
@out_option
@chroma_option
@chat_options
@server_options
def ask_cmd(
    question: str | None,
    as_json: bool,
    lang: str | None,
    k: int | None,
    continue_last: bool,
    conversation_id: str | None,
    no_log: bool,
    chroma_url: str | None,
    server_url: str | None,
    no_server: bool,
    **opts: Any,
) -> None:
    """Answer a question from the digests, with [arXiv id] citations.

    Without a question: a conversation.  On a terminal, with line editing and history
    (Up recalls earlier questions), follow-ups that may refer to the previous answer,
    Ctrl-C to cancel a question and Ctrl-D or `exit` to leave; from a pipe, one question
    per line.  Every answer is kept in `digest logs` unless --no-log (or logs.enabled = false).
    """
    from ..retrieval.conversation import start_conversation
    from ..serve.client import RemoteSession, server_for

    if server_url and no_server:
        raise click.UsageError("--server and --no-server: give one of them")
    settings = build_settings(
        **opts,
        index={"chroma_url": chroma_url},
        ask={"language": lang, "k": k},
        logs={"enabled": False if no_log else None},
    )
    server = server_for(settings, server_url, use_server=not no_server)
    session = RemoteSession(settings, server) if server is not None else None
    convo = start_conversation(
        settings,
        session=session,  # type: ignore[arg-type]
        continue_last=continue_last,
        conversation_id=conversation_id,
    )
    stream = sys.stdout.isatty() and not as_json

    def answer_one(q: str) -> None:
        out = convo.ask(q, stream_to=(lambda s: click.echo(s, nl=False)) if stream else None)
        if as_json:
            click.echo(
                json.dumps(answer_json(out), ensure_ascii=False, indent=None if question is None else 2)
            )
        else:
            print_answer(out, streamed=stream)

    if question is not None:
        try:
            answer_one(question)
        except KeyboardInterrupt:
            click.echo("\ninterrupted", err=True)
            sys.exit(130)
        return
    question_loop(
        answer_one,
        history_file=UserDir(settings.user_dir).history_path,
        after="" if as_json else "\n",
    )


COMMANDS = [ask_cmd]
