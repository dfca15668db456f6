"""CLI commands: logs list / search / path (every `digest ask`, kept in the user dir)."""

from __future__ import annotations

import json
from typing import Any

import click

from ..settings_sources import user_dir_from_env


def _store() -> Any:
    from ..userdata.logs import LogStore

    return LogStore.in_user_dir(user_dir_from_env())


def _show(items: list[Any], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps([i.model_dump(mode="json") for i in items], ensure_ascii=False, indent=2))
        return
    if not items:
        click.echo("no logged questions", err=True)
        return
    for n, item in enumerate(items):
        if n:
            click.echo()
        when = item.created.strftime("%Y-%m-%d %H:%M UTC")
        facts = [f"#{item.id}", when, f"conversation {item.conversation_id}"]
        if item.model:
            facts.append(f"{item.provider}/{item.model}" if item.provider else item.model)
            facts.append(f"{item.prompt_tokens}+{item.completion_tokens} tokens")
        facts.append(f"{item.duration_ms / 1000:.1f} s")
        if item.refused:
            facts.append(f"refused by {item.refused_by or 'the model'}")
        click.echo("  ".join(facts))
        click.echo(f"Q: {item.question}")
        click.echo(f"A: {item.answer}")
        if item.citations:
            click.echo("Sources: " + ", ".join(item.citations))


def _count(f: Any) -> Any:
    return click.option(
        "-n",
        "--count",
        "count",
        type=click.IntRange(min=1),
        default=10,
        show_default=True,
        help="How many (the most recent).",
    )(f)


def _json(f: Any) -> Any:
    return click.option("--json", "as_json", is_flag=True, help="JSON output.")(f)


@click.group("logs", invoke_without_command=True)
@click.pass_context
def logs_group(ctx: click.Context) -> None:
    """Every `digest ask` (question, answer, citations, model, tokens, time), kept in
    logs.db in the user dir.  Without a subcommand: the last 10.  Off with
    `logs.enabled = false` in a config file, or `ask --no-log`."""
    if ctx.invoked_subcommand is None:
        _show(_store().recent(10), False)


@logs_group.command("list")
@_count
@_json
@click.option("--cid", "conversation_id", default=None, help="Only this conversation.")
def logs_list_cmd(count: int, as_json: bool, conversation_id: str | None) -> None:
    """The most recent questions and answers, oldest first."""
    _show(_store().recent(count, conversation_id=conversation_id), as_json)


@logs_group.command("search")
@click.argument("text")
@_count
@_json
def logs_search_cmd(text: str, count: int, as_json: bool) -> None:
    """Questions or answers containing TEXT (case-insensitive for Latin letters)."""
    _show(_store().search(text, count), as_json)


@logs_group.command("path")
def logs_path_cmd() -> None:
    """Where the logs are kept."""
    click.echo(str(_store().path))


COMMANDS = [logs_group]
