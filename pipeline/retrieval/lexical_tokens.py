"""The lexicon (``bm25/lexicon.sqlite``): the vocabulary and the analysed tokens of every text.

- ``vocab``: token -> id.  Append-only: an id never changes, so the lexical indexes of
  any generation and the query side agree on it.
- ``texts``: the token ids of one text under one analyser, keyed by a hash of the analyser
  (tokenizer version, Kiwi version and options) and the text.  ``digest index`` analyses
  only texts it has not seen (Korean morphological analysis is the slow part of indexing);
  the lexical indexes are rebuilt from these ids.  Each batch is committed as it is
  analysed, so a killed run keeps its work, and texts no document uses any more are dropped.
- ``form_analyses``: how many times each Korean word form of the analysed texts was given
  each analysis (its content morphemes; ``known_forms.CROSSED``: a token crossed it), per
  analyser (``analysers``: analyser -> a small id): a query is analysed from the forms'
  majority analyses before Kiwi is loaded (``known_forms.py``).  Added to in the same
  transaction as the texts' tokens, from the texts analysed then only, so a cached text
  never counts twice; texts cached before the table existed count only once analysed again.
  The counts of a text no longer used stay (they are Kiwi's analyses, true of any text; a
  text dropped and later indexed again counts twice); those of an older analyser are
  dropped.  (An earlier ``forms`` table, one analysis per form, is dropped.)
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..store.jsonl import text_hash
from .known_forms import Analyses, Analysis, Forms, decode, encode

log = logging.getLogger(__name__)

_BATCH = 256  # texts analysed, then committed, at a time
_DDL = """
CREATE TABLE IF NOT EXISTS vocab (token TEXT PRIMARY KEY, id INTEGER NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS texts (key TEXT PRIMARY KEY, analyser TEXT NOT NULL, ids BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS analysers (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
DROP TABLE IF EXISTS forms;
CREATE TABLE IF NOT EXISTS form_analyses (
    analyser INTEGER NOT NULL, form TEXT NOT NULL, tokens TEXT NOT NULL, n INTEGER NOT NULL,
    PRIMARY KEY (analyser, form, tokens)
) WITHOUT ROWID;
"""
_COUNT_FORM = """
INSERT INTO form_analyses (analyser, form, tokens, n) VALUES (?, ?, ?, ?)
ON CONFLICT (analyser, form, tokens) DO UPDATE SET n = n + excluded.n
"""
EMPTY = "\u2205"  # the token of a text with none (BM25 needs every document to hold one)


def text_key(analyser: str, text: str) -> str:
    """The key of a text's tokens under ``analyser``."""
    return text_hash(analyser, text, length=24)


class Lexicon:
    """One connection to the lexicon file; thread-safe."""

    def __init__(self, path: Path, *, create: bool = False) -> None:
        self.path = Path(path)
        if create:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        elif not self.path.exists():
            raise FileNotFoundError(self.path)
        self._conn = sqlite3.connect(
            str(self.path), isolation_level=None, check_same_thread=False, timeout=30
        )
        self._lock = threading.Lock()
        self._vocab: dict[str, int] | None = None  # loaded when analysing
        if create:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.executescript(_DDL)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # -- the query side -------------------------------------------------------------------

    def ids(self, tokens: Iterable[str]) -> dict[str, int]:
        """Ids of those of ``tokens`` the vocabulary knows."""
        wanted = list(dict.fromkeys(tokens))
        out: dict[str, int] = {}
        with self._lock:
            for i in range(0, len(wanted), 500):
                part = wanted[i : i + 500]
                marks = ",".join("?" * len(part))
                out.update(self._conn.execute(f"SELECT token, id FROM vocab WHERE token IN ({marks})", part))
        return out

    def form_analyses(self, analyser: str, forms: Sequence[str]) -> dict[str, Analyses]:
        """The counted analyses of those of ``forms`` the table holds for ``analyser``; one
        indexed lookup.  sqlite3.Error when the table does not exist."""
        wanted = list(dict.fromkeys(forms))[:500]  # a longer query: the rest unknown (Kiwi)
        if not wanted:
            return {}
        marks = ",".join("?" * len(wanted))
        with self._lock:
            rows = self._conn.execute(
                f"SELECT form, tokens, n FROM form_analyses WHERE analyser = "
                f"(SELECT id FROM analysers WHERE name = ?) AND form IN ({marks})",
                [analyser, *wanted],
            ).fetchall()
        out: dict[str, Analyses] = {}
        for form, tokens, n in rows:
            out.setdefault(form, {})[decode(tokens)] = n
        return out

    # -- the index side -------------------------------------------------------------------

    @property
    def vocab_size(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT coalesce(max(id) + 1, 0) FROM vocab").fetchone()[0])

    def analyse(
        self,
        texts: Sequence[str],
        analyser: str,
        tokenize_many: Callable[[list[str]], list[list[str]] | Analysis],
        progress: Callable[[int], Any] | None = None,
    ) -> tuple[list[np.ndarray], list[str], int]:
        """Token ids of each text (cached ones read, the others analysed with
        ``tokenize_many`` and stored), the texts' keys, and how many were analysed now.
        ``tokenize_many`` returns each text's tokens, or an :class:`~.known_forms.Analysis`
        (the tokens and the texts' word forms, counted in ``form_analyses``).
        ``progress(total)``: a context manager with ``advance(n)`` (``progress.Progress``)."""
        keys = [text_key(analyser, t) for t in texts]
        ids, analysed = self.analyse_keyed(
            keys, lambda wanted: [texts[i] for i in wanted], analyser, tokenize_many, progress
        )
        return ids, keys, analysed

    def analyse_keyed(
        self,
        keys: Sequence[str],
        texts_of: Callable[[list[int]], list[str]],
        analyser: str,
        tokenize_many: Callable[[list[str]], list[list[str]] | Analysis],
        progress: Callable[[int], Any] | None = None,
    ) -> tuple[list[np.ndarray], int]:
        """:meth:`analyse` of texts known by their keys (:func:`text_key`): ``texts_of(i...)``
        gives the texts at those positions, asked only for keys the lexicon does not hold."""
        found: dict[str, np.ndarray] = {}
        with self._lock:
            unique = list(dict.fromkeys(keys))
            for i in range(0, len(unique), 500):
                part = unique[i : i + 500]
                marks = ",".join("?" * len(part))
                for key, blob in self._conn.execute(
                    f"SELECT key, ids FROM texts WHERE key IN ({marks})", part
                ):
                    found[key] = np.frombuffer(blob, dtype=np.int32)
        first: dict[str, int] = {}  # each key not held -> where its text is first
        for i, k in enumerate(keys):
            if k not in found and k not in first:
                first[k] = i
        if first:
            todo = list(zip(first, texts_of(list(first.values())), strict=True))
            with progress(len(todo)) if progress else contextlib.nullcontext() as bar:
                for start in range(0, len(todo), _BATCH):
                    batch = todo[start : start + _BATCH]
                    result = tokenize_many([t for _, t in batch])
                    analysed, forms = result if isinstance(result, Analysis) else (result, None)
                    items = [(k, toks or [EMPTY]) for (k, _), toks in zip(batch, analysed, strict=True)]
                    found.update(self._store(analyser, items, forms))
                    if bar is not None:
                        bar.advance(len(batch))
        return [found[k] for k in keys], len(first)

    def _store(
        self, analyser: str, items: list[tuple[str, list[str]]], forms: Forms | None = None
    ) -> dict[str, np.ndarray]:
        """Give new tokens ids and store the texts' ids, and add their word ``forms`` to
        the counts, in one transaction."""
        with self._lock:
            if self._vocab is None:
                self._vocab = dict(self._conn.execute("SELECT token, id FROM vocab"))
            vocab = self._vocab
            new: list[tuple[str, int]] = []
            out: dict[str, np.ndarray] = {}
            for key, tokens in items:
                ids = []
                for tok in tokens:
                    i = vocab.get(tok)
                    if i is None:
                        i = vocab[tok] = len(vocab)
                        new.append((tok, i))
                    ids.append(i)
                out[key] = np.asarray(ids, dtype=np.int32)
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                self._conn.executemany("INSERT INTO vocab VALUES (?, ?)", new)
                self._conn.executemany(
                    "INSERT OR REPLACE INTO texts VALUES (?, ?, ?)",
                    [(k, analyser, v.tobytes()) for k, v in out.items()],
                )
                if forms:
                    self._conn.execute("INSERT OR IGNORE INTO analysers (name) VALUES (?)", (analyser,))
                    (aid,) = self._conn.execute(
                        "SELECT id FROM analysers WHERE name = ?", (analyser,)
                    ).fetchone()
                    self._conn.executemany(
                        _COUNT_FORM, [(aid, form, encode(toks), n) for (form, toks), n in forms.items()]
                    )
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                self._vocab = None  # the ids just given were not stored: reload
                raise
            return out

    def keep_only(self, family: str, keys: Iterable[str], analyser: str | None = None) -> int:
        """Drop the texts of analysers named ``family``... (one language: older versions and
        options included) that are not among ``keys``, and the form counts of the family's
        analysers other than ``analyser`` (when given); the vocabulary stays.  Returns how many texts."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.execute("CREATE TEMP TABLE IF NOT EXISTS keep (key TEXT PRIMARY KEY)")
                self._conn.execute("DELETE FROM keep")
                self._conn.executemany("INSERT OR IGNORE INTO keep VALUES (?)", ((k,) for k in keys))
                dropped = self._conn.execute(
                    "DELETE FROM texts WHERE substr(analyser, 1, ?) = ? AND key NOT IN (SELECT key FROM keep)",
                    (len(family), family),
                ).rowcount
                self._conn.execute("DELETE FROM keep")
                if analyser is not None:
                    old = [
                        i
                        for i, name in self._conn.execute("SELECT id, name FROM analysers")
                        if name.startswith(family) and name != analyser
                    ]
                    for i in old:
                        self._conn.execute("DELETE FROM form_analyses WHERE analyser = ?", (i,))
                        self._conn.execute("DELETE FROM analysers WHERE id = ?", (i,))
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        return int(dropped)
