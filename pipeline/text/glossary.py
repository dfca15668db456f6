"""The glossary: a user-editable TSV (``korean<TAB>english``, ``#`` comments) that keeps
terms consistent across translation batches.

It is seeded from the digests' own ``한국어 용어(English Term)`` pairs (the most frequent
English rendering of each Korean term that occurs at least twice).  A user's edits are never
overwritten: seeding only appends terms the file does not know yet, and a commented-out
entry (``# 용어<TAB>term``) stays disabled.
"""

from __future__ import annotations

import logging
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError
from ..store.jsonl import write_text_atomic
from .hangul import has_hangul
from .terms import mine_term_pairs

log = logging.getLogger(__name__)

HEADER = (
    "# digest glossary: one term a line, korean<TAB>english. Edit freely, your edits are kept.\n"
    "# The English term is binding in translations of text that contains the Korean term.\n"
    "# Disable an entry by commenting it out ('# korean<TAB>english'): it will not be re-added.\n"
)


# renderings too generic to bind: a glossary entry would only add prompt tokens
GENERIC_ENGLISH = {
    "model",
    "models",
    "data",
    "method",
    "methods",
    "quality",
    "generate",
    "feature",
    "features",
    "frame",
    "frames",
    "prompt",
    "prompts",
    "pipeline",
    "weights",
    "complexity",
    "diversity",
    "roadmap",
    "performance",
    "framework",
    "system",
    "task",
    "tasks",
    "approach",
}


@dataclass
class Glossary:
    entries: dict[str, str] = field(default_factory=dict)  # korean -> english
    disabled: set[str] = field(default_factory=set)  # korean terms the user commented out
    path: Path | None = None

    def __len__(self) -> int:
        return len(self.entries)

    def matches(self, text: str) -> list[tuple[str, str]]:
        """Entries whose Korean term occurs in ``text``, sorted.  A term that only occurs
        inside a longer matched term (``언어 모델`` in ``대형 언어 모델``) is left out."""
        if not text or not self.entries:
            return []
        masked = text
        found: list[tuple[str, str]] = []
        for ko in sorted(self.entries, key=lambda k: (-len(k), k)):
            if ko in masked:
                found.append((ko, self.entries[ko]))
                masked = masked.replace(ko, "\x00" * len(ko))
        return sorted(found)


def parse_glossary(text: str, name: str = "<glossary>") -> Glossary:
    g = Glossary()
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            parts = [p.strip() for p in line.lstrip("#").split("\t") if p.strip()]
            if len(parts) == 2 and has_hangul(parts[0]):
                g.disabled.add(parts[0])
            continue
        parts = [p.strip() for p in raw.split("\t") if p.strip()]
        if len(parts) != 2:
            log.warning("%s:%d: skipping glossary line: expected korean<TAB>english", name, lineno)
            continue
        ko, en = parts
        if not has_hangul(ko):
            log.warning("%s:%d: skipping glossary line: the first column has no Korean", name, lineno)
            continue
        if has_hangul(en):
            log.warning("%s:%d: skipping glossary line: the English term contains Hangul", name, lineno)
            continue
        g.entries[ko] = en
        g.disabled.discard(ko)
    return g


def load_glossary(path: Path | None) -> Glossary:
    """The glossary at ``path`` (empty when the file does not exist)."""
    if path is None or not Path(path).exists():
        return Glossary(path=Path(path) if path else None)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read glossary {path}: {exc}") from None
    g = parse_glossary(text, str(path))
    g.path = Path(path)
    return g


def mine_glossary(texts: Iterable[str], min_occurrences: int = 2) -> dict[str, str]:
    """Korean term -> its most frequent English rendering in ``texts``.

    Only terms that occur at least ``min_occurrences`` times in the corpus are kept: a term
    seen once gains nothing from a glossary and would only add prompt tokens.
    """
    corpus = list(texts)
    renderings: dict[str, Counter[str]] = defaultdict(Counter)
    first_seen: dict[tuple[str, str], int] = {}
    for text in corpus:
        for ko, en in mine_term_pairs(text):
            if en.lower() in GENERIC_ENGLISH:
                continue
            renderings[ko][en] += 1
            first_seen.setdefault((ko, en), len(first_seen))
    joined = "\n".join(corpus)
    out: dict[str, str] = {}
    for ko, counts in renderings.items():
        if joined.count(ko) < min_occurrences:
            continue
        # casing variants vote together; the most common spelling of the winner is used
        by_lower: Counter[str] = Counter()
        for en, n in counts.items():
            by_lower[en.lower()] += n
        best_lower = max(
            by_lower, key=lambda k: (by_lower[k], -min(first_seen[(ko, e)] for e in counts if e.lower() == k))
        )
        spellings = [e for e in counts if e.lower() == best_lower]
        out[ko] = max(spellings, key=lambda e: (counts[e], -first_seen[(ko, e)]))
    return dict(sorted(out.items()))


@dataclass
class GlossaryUpdate:
    glossary: Glossary
    added: list[str] = field(default_factory=list)
    path: Path | None = None
    created: bool = False

    def summary(self) -> str:
        where = f" ({self.path})" if self.path else ""
        verb = "created" if self.created else "updated" if self.added else "unchanged"
        return f"glossary {verb}{where}: {len(self.glossary)} terms, {len(self.added)} added"


def seed_glossary(path: Path, texts: Iterable[str]) -> GlossaryUpdate:
    """Create ``path`` from the mined pairs, or append the mined terms it does not know yet
    (neither as an entry nor as a disabled one).  Existing lines are never changed."""
    path = Path(path)
    existing = load_glossary(path)
    mined = mine_glossary(texts)
    new = {ko: en for ko, en in mined.items() if ko not in existing.entries and ko not in existing.disabled}
    created = not path.exists()
    if created or new:
        old_text = path.read_text(encoding="utf-8-sig") if not created else HEADER
        if old_text and not old_text.endswith("\n"):
            old_text += "\n"
        added = "".join(f"{_tsv(ko)}\t{_tsv(en)}\n" for ko, en in new.items())
        write_text_atomic(path, old_text + added)
        existing.entries.update(new)
    existing.path = path
    return GlossaryUpdate(existing, sorted(new), path, created)


def _tsv(value: str) -> str:
    return re.sub(r"[\t\r\n]+", " ", value).strip()
