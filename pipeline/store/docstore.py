"""The index documents in SQLite (stdlib ``sqlite3``): one row per entry, looked up by
position, entry id or chunk id, so opening the index reads nothing but what a search returns.

Positions are the documents' order (the rows of the lexical indexes).  The index stage
writes the store in one transaction, rows of changed documents only (``docstate.py``); a
reader (:class:`DocStore`) keeps one read transaction for its lifetime, a consistent snapshot
even while ``digest index`` commits a new one (WAL journal).  ``meta`` holds what the
retrievers recorded for this generation of documents (e.g. the lexical indexes' keys);
``lines`` the input lines earlier runs validated (``stages/index/inputs.py``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, overload

import numpy as np

from ..errors import InputError
from ..records import IndexDoc

log = logging.getLogger(__name__)

SCHEMA = 1
_BUSY_MS = 30_000
DDL = """
CREATE TABLE IF NOT EXISTS docs (
    entry_id TEXT PRIMARY KEY,
    pos INTEGER NOT NULL,
    hash TEXT NOT NULL,
    arxiv_id TEXT,
    date_int INTEGER,
    votes INTEGER,
    topic_key TEXT,
    chunks TEXT NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS docs_pos ON docs(pos);
CREATE TABLE IF NOT EXISTS chunks (
    chunk_id TEXT PRIMARY KEY,
    entry_id TEXT NOT NULL,
    position INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_entry ON chunks(entry_id);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS lines (key TEXT PRIMARY KEY, entry_id TEXT NOT NULL) WITHOUT ROWID;
"""
# columns added since schema 1 (a store without them is read as it is and given them when written)
ADDED_COLUMNS = {"inputs": "TEXT", "untranslated": "INTEGER"}
UNTRANSLATED_FROM_RECORD = (
    "(json_extract(record, '$.sections_total') > 0 AND json_extract(record, '$.sections_translated') = 0)"
)


def doc_hash(doc: IndexDoc) -> str:
    """Content hash of a document (its chunk ids left out: they follow from the content)."""
    return hashlib.sha256(doc.model_dump_json(exclude={"chunks"}).encode()).hexdigest()[:20]


def columns(conn: sqlite3.Connection) -> set[str]:
    """The columns of the ``docs`` table (a store of an earlier version lacks the added ones)."""
    return {row[1] for row in conn.execute("PRAGMA table_info(docs)")}


def connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=_BUSY_MS / 1000)
    conn.execute(f"PRAGMA busy_timeout={_BUSY_MS}")
    return conn


# -- reading (search, ask) -------------------------------------------------------------------


class ByPosition(Sequence[IndexDoc]):
    """A sequence of documents read through ``get_many`` (a batch of positions at a time)."""

    def get_many(self, positions: Iterable[int]) -> list[IndexDoc]:
        raise NotImplementedError

    @overload
    def __getitem__(self, index: int) -> IndexDoc: ...
    @overload
    def __getitem__(self, index: slice) -> list[IndexDoc]: ...
    def __getitem__(self, index: int | slice) -> IndexDoc | list[IndexDoc]:
        if isinstance(index, slice):
            return self.get_many(range(*index.indices(len(self))))
        pos = index + len(self) if index < 0 else index
        if not 0 <= pos < len(self):
            raise IndexError(index)
        return self.get_many([pos])[0]

    def __iter__(self) -> Iterator[IndexDoc]:
        for start in range(0, len(self), 1000):
            yield from self.get_many(range(start, min(start + 1000, len(self))))


class DocStore(ByPosition):
    """The documents of one snapshot of the store, as a sequence by position.  Reads a row
    when asked for it; iterating reads them all.  Thread-safe."""

    def __init__(self, path: Path) -> None:
        path = Path(path)
        if not path.exists():
            raise InputError(f"{path} not found: run `digest index` first")
        self.path = path
        self._lock = threading.Lock()
        try:
            self._conn = connect(path)
            self._conn.execute("PRAGMA query_only=1")
            self._conn.execute("BEGIN")  # one snapshot for the reader's lifetime
            self._meta = {k: json.loads(v) for k, v in self._conn.execute("SELECT key, value FROM meta")}
        except sqlite3.Error as exc:
            raise InputError(f"cannot read the index {path}: {exc}; run `digest index`") from None
        if self._meta.get("schema") != SCHEMA:
            raise InputError(f"the index {path} was written by another version of digest: run `digest index`")
        self._len = int(self._meta.get("count", 0))

    def meta(self, key: str, default: Any = None) -> Any:
        return self._meta.get(key, default)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def _query(self, sql: str, args: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._conn.execute(sql, tuple(args)).fetchall()

    def __len__(self) -> int:
        return self._len

    def get_many(self, positions: Iterable[int]) -> list[IndexDoc]:
        """The documents at ``positions``, in that order."""
        wanted = [int(p) for p in positions]
        found: dict[int, IndexDoc] = {}
        for chunk in _chunks(sorted(set(wanted))):
            marks = ",".join("?" * len(chunk))
            for pos, record in self._query(f"SELECT pos, record FROM docs WHERE pos IN ({marks})", chunk):
                found[pos] = IndexDoc.model_validate_json(record)
        missing = [p for p in wanted if p not in found]
        if missing:
            raise IndexError(f"no document at position {missing[0]} in {self.path}")
        return [found[p] for p in wanted]

    def by_entry_id(self, entry_id: str) -> IndexDoc:
        rows = self._query("SELECT record FROM docs WHERE entry_id = ?", (entry_id,))
        if not rows:
            raise KeyError(entry_id)
        return IndexDoc.model_validate_json(rows[0][0])

    def positions_of(self, entry_ids: Iterable[str]) -> dict[str, int]:
        """Positions of those of ``entry_ids`` the store holds."""
        out: dict[str, int] = {}
        for chunk in _chunks(list(dict.fromkeys(entry_ids))):
            marks = ",".join("?" * len(chunk))
            out.update(self._query(f"SELECT entry_id, pos FROM docs WHERE entry_id IN ({marks})", chunk))
        return out

    def entry_of_chunk(self, chunk_id: str) -> str | None:
        rows = self._query("SELECT entry_id FROM chunks WHERE chunk_id = ?", (chunk_id,))
        return rows[0][0] if rows else None

    def mask(
        self,
        *,
        since: int | None = None,
        until: int | None = None,
        topic_key: str | None = None,
        min_votes: int | None = None,
    ) -> np.ndarray:
        """Positions passing the filters (dates as YYYYMMDD integers), as a boolean mask."""
        clauses, args = [], []
        for sql, value in (
            ("date_int >= ?", since),
            ("date_int <= ?", until),
            ("topic_key = ?", topic_key),
            ("votes >= ?", min_votes),
        ):
            if value is not None:
                clauses.append(sql)
                args.append(value)
        allowed = np.zeros(self._len, dtype=bool)
        if not clauses:
            allowed[:] = True
            return allowed
        rows = self._query("SELECT pos FROM docs WHERE " + " AND ".join(clauses), args)
        allowed[np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))] = True
        return allowed


class Positions:
    """``entry_id -> position`` of a :class:`DocStore`, looked up on demand (a Mapping's
    reading half: ``[]``, ``get``, ``in``, ``len``)."""

    def __init__(self, store: DocStore) -> None:
        self._store = store

    def __getitem__(self, entry_id: str) -> int:
        found = self._store.positions_of([entry_id])
        if entry_id not in found:
            raise KeyError(entry_id)
        return found[entry_id]

    def get(self, entry_id: str, default: int | None = None) -> int | None:
        return self._store.positions_of([entry_id]).get(entry_id, default)

    def __contains__(self, entry_id: object) -> bool:
        return isinstance(entry_id, str) and bool(self._store.positions_of([entry_id]))

    def __len__(self) -> int:
        return len(self._store)


def _chunks(items: list[Any], size: int = 500) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
