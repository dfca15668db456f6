"""The glosses each Korean text writes (``한국어 용어(English Term)``), mined once per text.

``digest index`` rebuilds the query bridge's table whenever the corpus changes; mining every
text's glosses again made a daily index grow with the corpus (60 s of regular expressions
at 90,000 entries).  The pairs of each text are kept in ``OUT/bridge/glosses.sqlite`` under a
hash of the text (and of the miner's version), so only new texts are mined.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path

from ..store.jsonl import text_hash
from ..text.terms import mine_term_pairs

MINER_VERSION = "glosses-v1"  # a change to text/terms.py's miner: bump, texts are mined again
_DDL = "CREATE TABLE IF NOT EXISTS glosses (key TEXT PRIMARY KEY, pairs TEXT NOT NULL)"

Pair = tuple[str, str]


def gloss_key(text: str) -> str:
    """The key of a text's glosses."""
    return text_hash(MINER_VERSION, text, length=20)


def cached_glosses(path: Path, miner: Callable[[str], list[Pair]] = mine_term_pairs) -> Callable:
    """``(keys, texts_of) -> [pairs of each text]`` for texts known by :func:`gloss_key`:
    what ``path`` holds is read, and ``texts_of(positions)`` gives the texts at those
    positions of ``keys`` not held, which are mined (and kept)."""

    def glosses_of(keys: Sequence[str], texts_of: Callable[[list[int]], list[str]]) -> list[list[Pair]]:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), isolation_level=None, timeout=30)
        try:
            conn.execute(_DDL)
            found: dict[str, list[Pair]] = {}
            unique = list(dict.fromkeys(keys))
            for i in range(0, len(unique), 500):
                part = unique[i : i + 500]
                rows = conn.execute(
                    f"SELECT key, pairs FROM glosses WHERE key IN ({','.join('?' * len(part))})", part
                )
                found.update((k, [tuple(p) for p in json.loads(v)]) for k, v in rows)
            first: dict[str, int] = {}
            for i, k in enumerate(keys):
                if k not in found and k not in first:
                    first[k] = i
            if first:
                texts = texts_of(list(first.values()))
                new = {k: miner(t) for k, t in zip(first, texts, strict=True)}
                conn.execute("BEGIN IMMEDIATE")
                conn.executemany(
                    "INSERT OR REPLACE INTO glosses VALUES (?, ?)",
                    [(k, json.dumps(v, ensure_ascii=False)) for k, v in new.items()],
                )
                conn.execute("COMMIT")
                found.update(new)
        finally:
            conn.close()
        return [found[k] for k in keys]

    return glosses_of
