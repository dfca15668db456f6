"""The index stage's side of the document store (``docstore.py``): what the store holds of
each document (position, hash, chunk ids, input fingerprint), the input lines earlier runs
validated, and the one transaction that brings the store in line with a run's documents,
writing only what differs."""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..records import IndexDoc
from .docstore import ADDED_COLUMNS, DDL, SCHEMA, UNTRANSLATED_FROM_RECORD, columns, connect
from .sqlite_prune import prune

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoredDoc:
    pos: int
    hash: str
    chunks: tuple[str, ...]
    inputs: str | None = None  # the fingerprint of the records it was built from
    untranslated: bool = False  # sections, none translated


def read_state(path: Path, *, docs: bool = True) -> tuple[dict[str, StoredDoc], dict[str, Any]]:
    """What the store holds: every document's position, hash and chunk ids, and the meta.
    Empty when there is no store (or an unreadable one: the index stage rebuilds it).
    ``docs=False``: the meta alone (what a retriever recorded), no document read."""
    path = Path(path)
    if not path.exists():
        return {}, {}
    try:
        conn = connect(path)
        try:
            meta = {k: json.loads(v) for k, v in conn.execute("SELECT key, value FROM meta")}
            if meta.get("schema") != SCHEMA:
                return {}, {}
            if not docs:
                return {}, meta
            have = columns(conn)
            inputs = "inputs" if "inputs" in have else "NULL"
            untranslated = (
                f"coalesce(untranslated, {UNTRANSLATED_FROM_RECORD})"
                if "untranslated" in have
                else UNTRANSLATED_FROM_RECORD
            )
            rows = conn.execute(f"SELECT entry_id, pos, hash, chunks, {inputs}, {untranslated} FROM docs")
            stored = {e: StoredDoc(p, h, tuple(json.loads(c)), i, bool(u)) for e, p, h, c, i, u in rows}
        finally:
            conn.close()
    except (sqlite3.Error, ValueError) as exc:
        log.warning("%s is unreadable (%s): the index documents are rebuilt", path, exc)
        return {}, {}
    return stored, meta


@dataclass(frozen=True)
class KeptDoc:
    """A document an index run keeps as stored: its record is neither read nor written."""

    entry_id: str
    stored: StoredDoc

    @property
    def chunks(self) -> list[str]:
        return list(self.stored.chunks)


def read_lines(path: Path) -> dict[str, str]:
    """The input lines earlier runs validated: line key -> entry id (``stages/index/inputs.py``)."""
    path = Path(path)
    if not path.exists():
        return {}
    try:
        conn = connect(path)
        try:
            return dict(conn.execute("SELECT key, entry_id FROM lines"))
        finally:
            conn.close()
    except sqlite3.Error:  # no such table yet, or unreadable: every line is parsed
        return {}


def write_docs(
    path: Path,
    docs: Sequence[IndexDoc | KeptDoc],
    hashes: Sequence[str],
    previous: dict[str, StoredDoc],
    meta: dict[str, Any],
    inputs: Sequence[str | None] | None = None,
    lines: tuple[dict[str, str], dict[str, str]] = ({}, {}),
) -> int:
    """Make the store hold exactly ``docs`` (in this order) and ``meta``, in one transaction
    that writes only what differs from ``previous`` (:func:`read_state`).  ``inputs``: each
    document's fingerprint; ``lines``: the input lines validated in this run (key -> entry id)
    and all the valid lines of the inputs (the table is pruned when it holds many more).
    Returns the number of rows written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fingerprints = list(inputs) if inputs is not None else [None] * len(docs)
    new_lines, lines_in_use = lines
    conn = connect(path)
    written = 0
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.executescript(DDL)
        for column, kind in ADDED_COLUMNS.items():
            if column not in columns(conn):
                conn.execute(f"ALTER TABLE docs ADD COLUMN {column} {kind}")
        stored_schema = conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        if stored_schema is not None and json.loads(stored_schema[0]) != SCHEMA:
            previous = {}
        conn.execute("BEGIN IMMEDIATE")
        try:
            if not previous:  # nothing to build on: start from empty tables
                conn.execute("DELETE FROM docs")
                conn.execute("DELETE FROM chunks")
            wanted = {d.entry_id for d in docs}
            gone = [(e,) for e in previous if e not in wanted]
            conn.executemany("DELETE FROM docs WHERE entry_id = ?", gone)
            conn.executemany("DELETE FROM chunks WHERE entry_id = ?", gone)
            rows, chunk_rows, moved, fingered = [], [], [], []
            for pos, (doc, h, fp) in enumerate(zip(docs, hashes, fingerprints, strict=True)):
                old = previous.get(doc.entry_id)
                if old is not None and old.hash == h and old.chunks == tuple(doc.chunks):
                    if old.pos != pos:
                        moved.append((pos, doc.entry_id))
                    if fp is not None and old.inputs != fp and isinstance(doc, IndexDoc):
                        fingered.append((fp, _untranslated(doc), doc.entry_id))
                    continue
                if isinstance(doc, KeptDoc):  # pragma: no cover - kept only when stored as is
                    raise ValueError(f"{doc.entry_id}: kept, but not stored as it is")
                rows.append(_row(doc, pos, h, fp))
                if old is not None:
                    conn.execute("DELETE FROM chunks WHERE entry_id = ?", (doc.entry_id,))
                chunk_rows += [(c, doc.entry_id, i) for i, c in enumerate(doc.chunks)]
            conn.executemany(
                f"INSERT OR REPLACE INTO docs ({_ROW}) VALUES ({','.join('?' * len(_ROW.split(',')))})", rows
            )
            conn.executemany("INSERT OR REPLACE INTO chunks VALUES (?, ?, ?)", chunk_rows)
            conn.executemany("UPDATE docs SET pos = ? WHERE entry_id = ?", moved)
            conn.executemany("UPDATE docs SET inputs = ?, untranslated = ? WHERE entry_id = ?", fingered)
            conn.executemany("INSERT OR IGNORE INTO lines VALUES (?, ?)", list(new_lines.items()))
            prune(conn, "lines", "key", lines_in_use)  # lines of records rewritten or removed since
            new_meta = {k: json.dumps(v) for k, v in {**meta, "schema": SCHEMA, "count": len(docs)}.items()}
            written = len(rows) + len(moved) + len(gone) + len(fingered) + len(new_lines)
            if not written and previous and dict(conn.execute("SELECT key, value FROM meta")) == new_meta:
                conn.execute("ROLLBACK")  # nothing changed: the file is not touched
                return 0
            conn.execute("DELETE FROM meta")
            conn.executemany("INSERT INTO meta VALUES (?, ?)", list(new_meta.items()))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        with contextlib.suppress(sqlite3.Error):  # a reader holds an old snapshot: a later write will
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return written


_ROW = "entry_id, pos, hash, arxiv_id, date_int, votes, topic_key, chunks, record, inputs, untranslated"


def _row(doc: IndexDoc, pos: int, h: str, inputs: str | None) -> tuple[Any, ...]:
    return (
        doc.entry_id,
        pos,
        h,
        doc.arxiv_id,
        int(doc.date.strftime("%Y%m%d")) if doc.date else None,
        doc.votes,
        doc.topic.strip().casefold() if doc.topic else None,
        json.dumps(list(doc.chunks)),
        doc.model_dump_json(),
        inputs,
        _untranslated(doc),
    )


def _untranslated(doc: IndexDoc) -> int:
    return int(bool(doc.sections_total and not doc.sections_translated))
