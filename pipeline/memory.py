"""Translation memory: a JSONL file of ``{"ko": ..., "en": ...}`` pairs reused verbatim
(exact match after normalising whitespace), so known text never costs a request."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from .errors import InputError

log = logging.getLogger(__name__)


def normalize(text: str) -> str:
    return " ".join((text or "").split())


class TranslationMemory:
    def __init__(self, pairs: dict[str, str] | None = None, path: Path | None = None):
        self.pairs = pairs or {}
        self.path = path

    def __len__(self) -> int:
        return len(self.pairs)

    def lookup(self, korean: str) -> str | None:
        return self.pairs.get(normalize(korean))


def load_memory(path: Path | None) -> TranslationMemory:
    """Load the memory file; a bad line is skipped with a warning naming file and line."""
    if path is None:
        return TranslationMemory()
    path = Path(path)
    try:
        raw = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(f"translation memory file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read translation memory {path}: {exc}") from None
    pairs: dict[str, str] = {}
    for lineno, line in enumerate(raw.splitlines(), 1):
        if not line.strip():
            continue
        problem = None
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            problem = f"not valid JSON ({exc.msg})"
        else:
            if not isinstance(item, dict):
                problem = 'expected an object {"ko": ..., "en": ...}'
            elif not isinstance(item.get("ko"), str) or not isinstance(item.get("en"), str):
                problem = 'needs string fields "ko" and "en"'
            elif not item["ko"].strip() or not item["en"].strip():
                problem = '"ko" and "en" must not be empty'
        if problem:
            log.warning("%s:%d: skipping translation memory line: %s", path, lineno, problem)
            continue
        pairs[normalize(item["ko"])] = item["en"].strip()
    log.info("translation memory %s: %d pairs", path, len(pairs))
    return TranslationMemory(pairs, path)
