"""Options shared by several commands, and the one place flags become settings."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from ..errors import ConfigError
from ..llm.presets import preset_names
from ..llm.registry import provider_names
from ..settings import Settings, load_settings


def config_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--config",
        "config_file",
        type=click.Path(path_type=Path),
        default=None,
        help="TOML settings file (default: $DIGEST_CONFIG or ./digest.toml).",
    )(f)


def out_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--out",
        "out_dir",
        type=click.Path(path_type=Path),
        default=None,
        help="Output folder (default: outputs/).",
    )(f)


# Each command offers only the LLM options it uses: `endpoint_options` where it reaches the
# endpoint at all (embeddings, models, batches), `chat_options` where it also asks a chat
# model, `llm_options` (all of them) where it sends many requests at once.


def endpoint_options(f: Callable[..., Any]) -> Callable[..., Any]:
    f = click.option(
        "--llm",
        "llm_provider",
        type=click.Choice(provider_names()),
        default=None,
        help="LLM provider: an OpenAI-compatible endpoint, Azure OpenAI, or the offline mock.",
    )(f)
    f = click.option(
        "--preset",
        type=click.Choice(preset_names()),
        default=None,
        help="Settings for a known server (base URL, JSON mode, concurrency, timeout); explicit ones win.",
    )(f)
    return click.option("--base-url", default=None, help="OpenAI-compatible base URL.")(f)


def chat_options(f: Callable[..., Any]) -> Callable[..., Any]:
    f = endpoint_options(f)
    return click.option("--model", "chat_model", default=None, help="Chat model name.")(f)


def llm_options(f: Callable[..., Any]) -> Callable[..., Any]:
    f = chat_options(f)
    return click.option("--concurrency", type=int, default=None, help="Requests in flight.")(f)


def max_cost_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--max-cost",
        type=click.FloatRange(min=0),
        default=None,
        metavar="USD",
        help="Stop before this run spends more than USD (llm.max_cost; priced as --dry-run states). "
        "Finished work is kept: run again to go on.",
    )(f)


_NOT_GIVEN: Any = object()


def build_settings(
    config_file: Path | None = None,
    out_dir: Path | None = None,
    llm_provider: Any = _NOT_GIVEN,
    chat_model: str | None = None,
    base_url: str | None = None,
    concurrency: int | None = None,
    preset: str | None = None,
    pick_model: bool = True,
    memory: tuple[Path, ...] | list[Path] = (),
    max_cost: float | None = None,
    **sections: dict[str, Any],
) -> Settings:
    """Settings from flags (``sections``: nested overrides), env, TOML and defaults;
    ``memory``: the ``--memory`` files, added after ``translate.memory_files`` (they win).
    For a command with the LLM options, a local endpoint's only model is used when none was
    set (``llm/served.py``; ``pick_model``)."""
    uses_llm = llm_provider is not _NOT_GIVEN  # a command with the LLM options
    llm_provider = None if llm_provider is _NOT_GIVEN else llm_provider
    overrides: dict[str, Any] = {
        "out_dir": out_dir,
        "llm": {
            "provider": llm_provider,
            "chat_model": chat_model,
            "base_url": base_url,
            "concurrency": concurrency,
            "preset": preset,
            "max_cost": max_cost,
        },
    }
    for key, value in sections.items():
        overrides.setdefault(key, {})
        if isinstance(value, dict):
            overrides[key] = {**overrides[key], **value} if isinstance(overrides[key], dict) else value
        else:
            overrides[key] = value
    settings = load_settings(config_file, **overrides)
    if memory:
        tr = settings.translate
        tr.memory_files = [*(p for p in tr.memory_files if p not in memory), *memory]
    if settings.out_dir.exists() and not settings.out_dir.is_dir():
        raise ConfigError(f"output folder {settings.out_dir} is a file, not a folder: choose another --out")
    if uses_llm and pick_model:
        from ..llm.served import pick_served_model

        model = pick_served_model(settings)
        if model:
            settings.llm.chat_model = model
            settings.llm.refresh_prices()
    return settings


MEMORY_HELP = (
    'Translation memory: JSONL of {"ko": ..., "en": ...} pairs reused without the LLM, used in '
    "addition to translate.memory_files (the samples' reviewed English by default) and winning "
    "where both have a pair (repeatable: a later file's pair wins)."
)


def memory_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--memory",
        "memory_file",
        type=click.Path(path_type=Path),
        multiple=True,
        help=MEMORY_HELP,
    )(f)


def dry_run_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--dry-run",
        is_flag=True,
        help="Estimate requests, tokens and cost (online and --batch); call nothing.",
    )(f)


def batch_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--batch",
        "use_batch",
        is_flag=True,
        help="Submit the requests to the Batch API (half price, within 24 h); see `digest batch`.",
    )(f)
