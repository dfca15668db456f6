"""What the query bridge takes from each entry, kept by the entry's fingerprint.

The bridge's table depends on every entry: the newest sections' (Korean, English) pairs
train the alignment, every section's glosses make the phrases.  Reading and hashing every
entry's records for that made a daily ``digest index`` grow with the corpus, so each entry's
**facts** (its sort key, the keys of its sentence pairs and of its sections' texts) are kept
in ``OUT/bridge/glosses.sqlite`` under the entry's fingerprint (``stages/index/inputs.py``:
its records, the translation memory, the builder); only the entries whose fingerprint is new
are read.  The texts themselves are read only when a key is new to the gloss cache, or the
alignment is trained again.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ..records import Entry, Metadata, SectionTranslation
from ..store.jsonl import content_hash, file_hash
from ..store.sqlite_prune import prune
from ..text.memory import TranslationMemory
from .gloss_cache import MINER_VERSION, gloss_key

FACTS_VERSION = "bridge-facts-v1"
_DDL = "CREATE TABLE IF NOT EXISTS entry_facts (fingerprint TEXT PRIMARY KEY, facts TEXT NOT NULL)"


class Corpus(Protocol):
    """The entries as units (each with a ``fingerprint``; empty: not to be cached), the
    memory, and the records of the units asked for."""

    units: Sequence[Any]
    memory: TranslationMemory

    def load(self, units: Sequence[Any]) -> tuple[list[Entry], list[SectionTranslation], list[Metadata]]: ...


@dataclass
class _Unit:
    fingerprint: str
    position: int


class LoadedCorpus:
    """A :class:`Corpus` of records already read (nothing cached)."""

    def __init__(
        self, entries: list[Entry], translations: list[SectionTranslation], memory: TranslationMemory
    ) -> None:
        self.entries, self.translations, self.memory = entries, translations, memory
        self.units = [_Unit("", i) for i in range(len(entries))]

    def load(self, units: Sequence[Any]) -> tuple[list[Entry], list[SectionTranslation], list[Metadata]]:
        wanted = [self.entries[u.position] for u in units]
        ids = {e.id for e in wanted}
        return wanted, [t for t in self.translations if t.entry_id in ids], []


@dataclass(frozen=True)
class Facts:
    """One entry's share of the bridge: where its pairs sort (newest first), the keys of
    its (Korean, English) section pairs, and of its sections' texts (for the gloss cache)."""

    order: tuple[str, str]
    pairs: tuple[str, ...]
    glosses: tuple[str, ...]


def translated_sections(translations: Sequence[SectionTranslation]) -> dict[tuple[str, int], str]:
    """(entry id, section) -> English: the last non-empty record wins."""
    return {(t.entry_id, t.index): t.text for t in translations if t.text.strip()}


def entry_pairs(
    entry: Entry, translated: dict[tuple[str, int], str], memory: TranslationMemory
) -> list[tuple[str, str]]:
    """(Korean section, English) of each translated section of ``entry``; the memory fills
    the sections translate has not done."""
    pairs = []
    for i, s in enumerate(entry.sections):
        english = translated.get((entry.id, i)) or memory.lookup(s.text)
        if english and s.text.strip():
            pairs.append((s.text, english))
    return pairs


def pair_key(korean: str, english: str) -> str:
    return content_hash(korean, english, length=16)


def sort_key(entry: Entry) -> tuple[str, str]:
    """Newest digests first: sorted by this, descending."""
    return (str(entry.date or ""), entry.id)


def facts_of(entry: Entry, translated: dict[tuple[str, int], str], memory: TranslationMemory) -> Facts:
    return Facts(
        sort_key(entry),
        tuple(pair_key(k, e) for k, e in entry_pairs(entry, translated, memory)),
        tuple(gloss_key(s.text) for s in entry.sections),
    )


def _identity() -> str:
    """What facts depend on besides the entry: this module's rules and the gloss miner's."""
    return content_hash(FACTS_VERSION, MINER_VERSION, file_hash(Path(__file__)), length=12)


def corpus_facts(path: Path, corpus: Corpus) -> list[Facts]:
    """The facts of every unit of ``corpus``: read from ``path`` by fingerprint, the others
    from the records (and kept)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), isolation_level=None, timeout=30)
    try:
        conn.execute(_DDL)
        identity = _identity()
        keys = [f"{identity}:{u.fingerprint}" if u.fingerprint else "" for u in corpus.units]
        stored: dict[str, Facts] = {}
        wanted = [k for k in dict.fromkeys(keys) if k]
        for i in range(0, len(wanted), 500):
            part = wanted[i : i + 500]
            rows = conn.execute(
                f"SELECT fingerprint, facts FROM entry_facts WHERE fingerprint IN ({','.join('?' * len(part))})",
                part,
            )
            for key, raw in rows:
                o, p, g = json.loads(raw)
                stored[key] = Facts((o[0], o[1]), tuple(p), tuple(g))
        todo = [i for i, k in enumerate(keys) if k not in stored]
        entries, translations, _ = corpus.load([corpus.units[i] for i in todo])
        translated = translated_sections(translations)
        made = {i: facts_of(e, translated, corpus.memory) for i, e in zip(todo, entries, strict=True)}
        new = {keys[i]: f for i, f in made.items() if keys[i]}
        if new:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(
                "INSERT OR REPLACE INTO entry_facts VALUES (?, ?)",
                [(k, json.dumps([f.order, f.pairs, f.glosses], ensure_ascii=False)) for k, f in new.items()],
            )
            prune(conn, "entry_facts", "fingerprint", wanted)  # of entries changed or removed since
            conn.execute("COMMIT")
    finally:
        conn.close()
    return [made[i] if i in made else stored[k] for i, k in enumerate(keys)]


def newest_first(facts: Sequence[Facts], limit: int | None) -> list[int]:
    """Unit indices, newest digests first, as far as the first ``limit`` pairs reach."""
    order = sorted(range(len(facts)), key=lambda i: facts[i].order, reverse=True)
    taken: list[int] = []
    n = 0
    for i in order:
        if limit is not None and n >= limit:
            break
        taken.append(i)
        n += len(facts[i].pairs)
    return taken
