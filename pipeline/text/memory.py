"""Translation memory: JSONL files of ``{"ko": ..., "en": ...}`` pairs reused verbatim, so
known text never costs a request.

ONE loader and ONE normalisation serve every stage (translate, index, and the retrieval
evaluation that re-indexes with it): a Korean text is "in memory" when it equals a pair's
``ko`` after collapsing white space.  Several files can be given; a later file's pair
wins over an earlier one's.

A line is ``{"ko": ..., "en": ...}``; other fields are ignored for lookup.  A reviewed pair
may carry ``"glossary_exceptions": {"정렬": "here: ordering (entropy-ordered sampling)"}``:
Korean terms whose glossary rendering the reviewer judged wrong for this text (a homonym),
each with the reason.  Only the validation of memory pairs honours them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError

log = logging.getLogger(__name__)


def normalize(text: str | None) -> str:
    """The memory key of a text: white space collapsed, ends trimmed."""
    return " ".join((text or "").split())


@dataclass(frozen=True)
class MemoryPair:
    """One pair as read: where it came from, and its reviewed glossary exceptions."""

    ko: str
    en: str
    path: Path
    line: int
    glossary_exceptions: dict[str, str] = field(default_factory=dict)


class TranslationMemory:
    def __init__(
        self,
        pairs: dict[str, str] | None = None,
        paths: Sequence[Path] = (),
        records: dict[str, MemoryPair] | None = None,
    ):
        self.pairs = pairs or {}  # normalised Korean -> English
        self.paths = list(paths)
        self.records = records or {}  # normalised Korean -> the pair as read (file, line, ...)

    def __len__(self) -> int:
        return len(self.pairs)

    def lookup(self, korean: str) -> str | None:
        return self.pairs.get(normalize(korean))

    def record(self, korean: str) -> MemoryPair | None:
        """The pair of ``korean`` with its file, line and reviewed glossary exceptions."""
        return self.records.get(normalize(korean))


def memory_paths(value: Path | str | Sequence[Path | str] | None) -> list[Path]:
    """The memory files of a setting: none, one, or several (in order)."""
    if value is None:
        return []
    if isinstance(value, str | Path):
        return [Path(value)]
    return [Path(v) for v in value]


def load_memory(value: Path | str | Sequence[Path | str] | None) -> TranslationMemory:
    """Load the memory files (later files win); a bad line is skipped with a warning naming
    file and line; a missing or unreadable file is an :class:`InputError`."""
    paths = memory_paths(value)
    records: dict[str, MemoryPair] = {}
    for path in paths:
        found = _read_pairs(path)
        records.update(found)
        log.info("translation memory %s: %d pairs", path, len(found))
    return TranslationMemory({k: r.en for k, r in records.items()}, paths, records)


def read_memory_file(path: Path) -> list[MemoryPair]:
    """Every good pair of one memory file, in file order (bad lines warned about, skipped)."""
    return list(_read_pairs(Path(path)).values())


def _read_pairs(path: Path) -> dict[str, MemoryPair]:
    try:
        raw = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(f"translation memory file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read translation memory {path}: {exc}") from None
    pairs: dict[str, MemoryPair] = {}
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
        exceptions = item.get("glossary_exceptions") or {}
        if not isinstance(exceptions, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in exceptions.items()
        ):
            log.warning(
                "%s:%d: ignoring glossary_exceptions: expected an object of korean term -> reason",
                path,
                lineno,
            )
            exceptions = {}
        pairs[normalize(item["ko"])] = MemoryPair(item["ko"], item["en"].strip(), path, lineno, exceptions)
    return pairs
