"""Prompt files: Markdown in ``settings.prompts_dir``; their hash goes into cache keys."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigError
from .settings import Settings
from .store.jsonl import content_hash


@dataclass(frozen=True)
class Prompt:
    text: str
    sha: str  # content hash of the text: part of every cache key built on this prompt
    path: Path


def load_prompt(settings: Settings, name: str) -> Prompt:
    """Read ``name`` (e.g. ``settings.translate.prompt``) from the prompts folder; an absolute
    or relative path that exists is used as is."""
    candidate = Path(name)
    path = candidate if candidate.is_file() else Path(settings.prompts_dir) / name
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"prompt file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read prompt file {path}: {exc}") from None
    text = text.strip()
    if not text:
        raise ConfigError(f"prompt file is empty: {path}")
    return Prompt(text=text, sha=content_hash(text), path=path)
