"""The glossary: a user-editable TSV (``korean<TAB>english``, ``#`` comments) that keeps
terms consistent across translation batches.

It is seeded from the digests' own ``한국어 용어(English Term)`` pairs, conservatively: a
pair becomes an entry only when several sections gloss it alike and no gloss contradicts
it (:func:`mine_glossary`).  A Korean term matches only as a word of its own
(``boundary.py``).  A user's edits are never
overwritten: seeding only appends terms the file does not know yet, and a commented-out
entry (``# 용어<TAB>term``) stays disabled.
"""

from __future__ import annotations

import logging
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..store.jsonl import write_text_atomic
from .boundary import count_term, find_term, has_term
from .english import roots, uses_term
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


class _Terms(dict[str, str]):
    """korean -> english, counting its changes (so :class:`Glossary` can keep an index)."""

    version = 0

    def _changed(self) -> None:
        self.version += 1

    def __setitem__(self, key: str, value: str) -> None:
        super().__setitem__(key, value)
        self._changed()

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self._changed()

    def update(self, *args: Any, **kwargs: Any) -> None:
        super().update(*args, **kwargs)
        self._changed()

    def pop(self, *args: Any) -> Any:
        self._changed()
        return super().pop(*args)

    def popitem(self) -> tuple[str, str]:
        self._changed()
        return super().popitem()

    def setdefault(self, key: str, default: Any = None) -> Any:
        self._changed()
        return super().setdefault(key, default)

    def clear(self) -> None:
        super().clear()
        self._changed()


def _prefix(term: str) -> str:
    """The index key of a term: the first two characters of its first word (spaces inside a
    term match any white space, so the key never spans one)."""
    return (term.split() or [term])[0][:2]


@dataclass
class Glossary:
    entries: dict[str, str] = field(default_factory=dict)  # korean -> english
    disabled: set[str] = field(default_factory=set)  # korean terms the user commented out
    path: Path | None = None

    def __post_init__(self) -> None:
        self._index: tuple[int, int, dict[str, list[str]], dict[str, int]] | None = None

    def __len__(self) -> int:
        return len(self.entries)

    def _lookup(self) -> tuple[dict[str, list[str]], dict[str, int]]:
        """Terms by their first two characters, and each term's rank in the matching order
        (longest first): built once per version of the entries."""
        if not isinstance(self.entries, _Terms):
            self.entries = _Terms(self.entries)
        terms = self.entries
        if self._index is None or self._index[:2] != (id(terms), terms.version):
            order = sorted(terms, key=lambda k: (-len(k), k))
            by_prefix: dict[str, list[str]] = {}
            for ko in order:
                by_prefix.setdefault(_prefix(ko), []).append(ko)
            self._index = (id(terms), terms.version, by_prefix, {ko: i for i, ko in enumerate(order)})
        return self._index[2], self._index[3]

    def matches(self, text: str) -> list[tuple[str, str]]:
        """Entries whose Korean term occurs in ``text`` as a word of its own (``boundary.py``:
        ``속성`` is not in ``연속성``, ``적응`` not in ``적응형``), sorted.  A term that only
        occurs inside a longer matched term (``언어 모델`` in ``대형 언어 모델``) is left out.

        Only terms whose first characters occur in ``text`` are tried (an index, so the cost
        follows the text, not the size of the glossary), longest first."""
        if not text or not self.entries:
            return []
        by_prefix, rank = self._lookup()
        if len(by_prefix) < len(text):  # test the glossary's prefixes against the text
            present = [p for p in by_prefix if p in text]
        else:  # or the text's character pairs against the glossary
            present = list(({text[i : i + 2] for i in range(len(text) - 1)} | set(text)) & by_prefix.keys())
        candidates: list[str] = []
        for p in present:
            candidates.extend(by_prefix[p])
        candidates.sort(key=rank.__getitem__)
        masked = text
        found: list[tuple[str, str]] = []
        for ko in candidates:
            spans = find_term(masked, ko)
            if spans:
                found.append((ko, self.entries[ko]))
                for a, b in spans:
                    masked = masked[:a] + "\x00" * (b - a) + masked[b:]
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


def mine_glossary(
    texts: Iterable[str],
    min_occurrences: int = 2,
    min_sections: int = 2,
    pairs: Callable[[str], list[tuple[str, str]]] = mine_term_pairs,
) -> dict[str, str]:
    """Korean term -> its English rendering, from the ``한국어(English)`` glosses in ``texts``
    (one text per section), kept only where the evidence agrees:

    - the same pair (English compared by word roots, so "Model" == "models") is glossed in at
      least ``min_sections`` sections: a gloss written once may be a slip of the digest's
      author (``가지치기(shearing)`` for pruning) and must not bind every other section;
    - no gloss contradicts it: the term glossed differently elsewhere (``언어 모델(Code
      LLMs)``), or a longer gloss containing the term whose English does not use the
      rendering (``가우시안 가지치기(Gaussian pruning)`` against ``가지치기(shearing)``);
    - the term occurs at least ``min_occurrences`` times as a word of its own (a term seen
      once gains nothing from a glossary and would only add prompt tokens).

    ``pairs``: :func:`mine_term_pairs`, or a cached equivalent (translate's plan memo).
    """
    corpus = list(texts)
    sections: dict[str, dict[tuple[str, ...], set[int]]] = defaultdict(lambda: defaultdict(set))
    spellings: dict[tuple[str, tuple[str, ...]], Counter[str]] = defaultdict(Counter)
    glosses: set[tuple[str, str]] = set()
    for i, text in enumerate(corpus):
        for ko, en in pairs(text):
            if en.lower() in GENERIC_ENGLISH:
                continue
            key = tuple(roots(en))
            sections[ko][key].add(i)
            spellings[(ko, key)][en] += 1
            glosses.add((ko, en))
    out: dict[str, str] = {}
    for ko, by_key in sections.items():
        key, seen_in = max(by_key.items(), key=lambda kv: (len(kv[1]), -min(kv[1])))
        if len(seen_in) < min_sections or len(by_key) > 1:
            continue
        english = max(spellings[(ko, key)].items(), key=lambda kv: kv[1])[0]
        if _contradicted(ko, english, glosses):
            continue
        if not _occurs(ko, corpus, sorted(seen_in), min_occurrences):
            continue
        out[ko] = english
    return dict(sorted(out.items()))


def _occurs(ko: str, corpus: list[str], first: list[int], n: int) -> bool:
    """Does ``ko`` occur at least ``n`` times as a word of its own?  The texts that gloss it
    are counted first and the count stops at ``n``, so a common term costs a few texts."""
    seen, done = 0, set(first)
    for i in [*first, *(j for j in range(len(corpus)) if j not in done)]:
        if ko in corpus[i]:
            seen += count_term(corpus[i], ko)
            if seen >= n:
                return True
    return False


def _contradicted(ko: str, english: str, glosses: set[tuple[str, str]]) -> bool:
    """Is ``ko`` rendered otherwise inside a longer gloss (its English does not use ``english``)?"""
    return any(ko != other and has_term(other, ko) and not uses_term(english, en) for other, en in glosses)


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


def seed_glossary(
    path: Path, texts: Iterable[str], pairs: Callable[[str], list[tuple[str, str]]] = mine_term_pairs
) -> GlossaryUpdate:
    """Create ``path`` from the mined pairs, or append the mined terms it does not know yet
    (neither as an entry nor as a disabled one).  Existing lines are never changed."""
    path = Path(path)
    existing = load_glossary(path)
    mined = mine_glossary(texts, pairs=pairs)
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
