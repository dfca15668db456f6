"""The chunk vectors' own copy (``OUT/dense/<key>/``), which a search reads without Chroma.

For an embedded index of at most :data:`MAX_CHUNKS` chunks, ``digest index`` writes every
chunk's vector (``vectors.npy``, float32, unit length), the position of the document it
belongs to (``owners.npy``) and its id (``chunks.npy``); a search memory-maps them, so a
one-off ``digest search`` neither imports chromadb nor loads its HNSW index.  Up to
:data:`EXACT_MAX` chunks the rows are in document order and a search scores every one
exactly (one matrix-vector product, about a millisecond per 10,000 chunks).  Above, the copy
is partitioned (``dense_ivf.py``: k-means centroids, the rows grouped by nearest centroid,
``centroids.npy``, ``offsets.npy``, ``ivf.json``): a search scores the centroids and then
exactly only the rows of the nearest lists (approximate, as Chroma's HNSW), or, when its
filters leave no more chunks than such a probe reads, exactly those.  Beyond MAX_CHUNKS, and
for a shared Chroma server, searches go through Chroma.

The copy is derived: its vectors are the ones stored in Chroma (re-used from the previous
copy, or read back from Chroma), its directory name hashes the chunk ids in order, and the
index documents record which copy belongs to them (``retriever:dense`` in their meta, with
its ``layout``), so a copy never serves documents it was not built for.  Chroma stays the
store of record.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from ..store.jsonl import content_hash
from ..store.layout import OutDir
from . import dense_ivf
from .dense_ivf import scores, top_documents

log = logging.getLogger(__name__)

FORMAT = "dense-v1"  # the exact copy's (the partitioned one's: dense_ivf.FORMAT)
EXACT_MAX = 50_000  # beyond: brute force would pass ~20 ms a query; the copy is partitioned
MAX_CHUNKS = 2_000_000  # beyond: no copy, Chroma's HNSW index answers
_FETCH = 500  # vectors read back from Chroma at a time
_GATHER = 32_768  # rows copied from the previous copy, or written in list order, at a time
_FILES = ("vectors.npy", "owners.npy", "chunks.npy")


class VectorCopy:
    """A copy opened for searching (memory-mapped: opening reads only the owners)."""

    def __init__(self, path: Path, layout: str = "exact") -> None:
        self.path = path
        self.vectors = np.load(path / "vectors.npy", mmap_mode="r")
        self.owners = np.load(path / "owners.npy", mmap_mode="r")
        if self.vectors.ndim != 2 or len(self.vectors) != len(self.owners):
            raise ValueError(f"{path}: vectors and owners differ in length")
        self.documents = int(self.owners.max()) + 1 if len(self.owners) else 0
        self.lists = dense_ivf.Lists(path, *self.vectors.shape) if layout == "ivf" else None
        self._vectors, self._owners = np.asarray(self.vectors), np.asarray(self.owners)  # cheap slices

    @staticmethod
    def open(out: OutDir, info: dict[str, Any] | None, collection: str, n_docs: int) -> VectorCopy | None:
        """The copy the index documents recorded, if it is there and belongs to ``collection``
        (the current embedding settings); None otherwise (the search asks Chroma)."""
        if not info or info.get("collection") != collection or not info.get("dir"):
            return None
        layout = info.get("layout", "exact")
        if layout not in ("exact", "ivf"):
            return None
        try:
            copy = VectorCopy(out.dense_dir / str(info["dir"]), layout)
        except (OSError, ValueError) as exc:
            log.info("dense vector copy unreadable (%s): searching Chroma", exc)
            return None
        return copy if copy.documents <= n_docs else None

    def __len__(self) -> int:
        return len(self.owners)

    def rank(
        self, vector: np.ndarray, allowed: np.ndarray, depth: int, *, nprobe: int | None = None
    ) -> tuple[list[int], dict[int, float]]:
        """Document positions by their best chunk's cosine similarity, best first (at most
        ``depth``), among the ``allowed`` documents; and each one's similarity.  A partitioned
        copy probes ``nprobe`` lists first (default: max(8, 10 % of them))."""
        if not len(self) or depth <= 0:
            return [], {}
        q = np.asarray(vector, dtype=np.float32)
        if self.lists is None:  # every chunk, exactly
            sims = np.asarray(self._vectors @ q, dtype=np.float32)
            ok = allowed[self._owners] if len(allowed) else np.zeros(len(self), dtype=bool)
            return top_documents(np.where(ok, sims, -np.inf), self._owners, depth)
        if len(allowed) >= self.documents and allowed.all():
            return self.lists.rank(self._vectors, self._owners, q, depth, nprobe=nprobe)
        if not allowed.any():
            return [], {}
        row_ok = allowed[self._owners]  # the filtered path: one pass over the owners
        rows = np.flatnonzero(row_ok)
        if len(rows) <= min(EXACT_MAX, self.lists.probe_rows):  # no more than a probe reads: exactly
            return top_documents(scores(self._vectors, q, 0, len(rows), rows), self._owners[rows], depth)
        return self.lists.rank(self._vectors, self._owners, q, depth, row_ok, nprobe)


def build_copy(
    out: OutDir, collection: Any, chunk_lists: list[list[str]], current: dict[str, Any] | None
) -> dict[str, Any] | None:
    """Write the copy for documents whose chunk ids are ``chunk_lists`` (in document order)
    and return what the index documents record for it; None (and no copy) when the index is
    too large for one.  Vectors come from the ``current`` copy where it has them, the rest
    from Chroma; a partitioned copy re-uses the current one's centroids while they fit."""
    order = [c for chunks in chunk_lists for c in chunks]
    if len(order) > MAX_CHUNKS:
        log.info("dense: %d chunks, more than %d: searches use Chroma's HNSW index", len(order), MAX_CHUNKS)
        _clean(out, keep=(current or {}).get("dir"))
        return None
    layout = "exact" if len(order) <= EXACT_MAX else "ivf"
    key = content_hash(FORMAT if layout == "exact" else dense_ivf.FORMAT, collection.name, order, length=16)
    target = out.dense_dir / key
    info = {"dir": key, "chunks": len(order), "collection": collection.name, "layout": layout}
    files = _FILES + (dense_ivf.FILES if layout == "ivf" else ())
    if all((target / f).exists() for f in files):
        _clean(out, keep=key, also=(current or {}).get("dir"))
        return info
    previous = None  # the current copy, when it holds this collection's vectors
    if current and current.get("dir") and current.get("collection") == collection.name:
        previous = out.dense_dir / str(current["dir"])
    vectors, fetched = _gather(collection, order, previous)
    if vectors is None:  # Chroma lost some (cannot happen after the sync): no copy, Chroma answers
        return None
    owners = np.asarray([pos for pos, chunks in enumerate(chunk_lists) for _ in chunks], dtype=np.int32)
    chunks = np.asarray(order, dtype="S")
    if layout == "exact":
        _write(target, {"vectors.npy": vectors, "owners.npy": owners, "chunks.npy": chunks})
    else:
        old_ivf = previous if previous is not None and current.get("layout") == "ivf" else None
        part = dense_ivf.partition(vectors, old_ivf)
        rows = part.order
        arrays = {"vectors.npy": (vectors, rows), "owners.npy": owners[rows], "chunks.npy": chunks[rows]}
        arrays |= {"centroids.npy": part.centroids, "offsets.npy": part.offsets}
        _write(target, arrays, {"ivf.json": json.dumps(part.meta)})
        log.info("dense: %d lists (%s)", len(part.centroids), "re-used" if part.meta["reused"] else "trained")
    log.info("dense: vector copy of %d chunks (%d read back from Chroma)", len(order), fetched)
    _clean(out, keep=key, also=(current or {}).get("dir"))
    return info


def _gather(collection: Any, order: list[str], previous: Path | None) -> tuple[np.ndarray | None, int]:
    """The vectors of ``order`` (rows in that order): those the ``previous`` copy has, gathered
    from its memory map by row index, the rest read back from Chroma; None if Chroma lacks some."""
    n = len(order)
    src = np.full(n, -1, dtype=np.int64)
    old: np.ndarray | None = None
    if previous is not None:
        try:
            old_chunks = np.load(previous / "chunks.npy")
            old = np.load(previous / "vectors.npy", mmap_mode="r")
        except (OSError, ValueError):
            old = None
        if old is not None and old.ndim == 2 and len(old) == len(old_chunks):
            row_of = {c: i for i, c in enumerate(old_chunks.tolist())}
            src = np.fromiter((row_of.get(c.encode(), -1) for c in order), dtype=np.int64, count=n)
    vectors = np.zeros((n, old.shape[1] if old is not None else 0), dtype=np.float32)
    filled = src >= 0
    have = np.flatnonzero(filled)
    for i in range(0, len(have) if old is not None else 0, _GATHER):  # one gather per batch
        vectors[have[i : i + _GATHER]] = old[src[have[i : i + _GATHER]]]  # type: ignore[index]
    missing = np.flatnonzero(~filled)
    for i in range(0, len(missing), _FETCH):
        rows = missing[i : i + _FETCH].tolist()
        row_of_id = {order[r]: r for r in rows}
        got = collection.get(ids=list(row_of_id), include=["embeddings"])
        found = [row_of_id[c] for c in got["ids"]]
        if not found:
            continue
        emb = np.asarray(got["embeddings"], dtype=np.float32)
        if vectors.shape[1] != emb.shape[1]:  # the first vectors: now the dimension is known
            if filled.any():  # not the previous copy's (cannot happen: same collection)
                log.warning("dense: the previous copy's vectors are not Chroma's; searches use Chroma")
                return None, len(missing)
            vectors = np.zeros((n, emb.shape[1]), dtype=np.float32)
        vectors[found] = emb
        filled[found] = True
    if not filled.all():
        log.warning("dense: %d chunk vectors missing from Chroma; searches use Chroma", int((~filled).sum()))
        return None, len(missing)
    return vectors, len(missing)


def _write(target: Path, arrays: dict[str, Any], texts: dict[str, str] | None = None) -> None:
    """The files into a fresh directory, renamed into place when complete; an array given as
    ``(array, rows)`` is written as ``array[rows]``, a batch at a time."""
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name, arr in arrays.items():
        if isinstance(arr, tuple):
            source, rows = arr
            mm = np.lib.format.open_memmap(tmp / name, mode="w+", dtype=source.dtype, shape=source.shape)
            for i in range(0, len(rows), _GATHER):
                mm[i : i + _GATHER] = source[rows[i : i + _GATHER]]
            mm.flush()
            del mm
        else:
            with open(tmp / name, "wb") as f:
                np.save(f, arr)
        _fsync(tmp / name)
    for name, text in (texts or {}).items():
        (tmp / name).write_text(text)
        _fsync(tmp / name)
    shutil.rmtree(target, ignore_errors=True)
    os.replace(tmp, target)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _clean(out: OutDir, keep: str | None, also: str | None = None) -> None:
    """Remove the copies no index generation uses (the one in use stays until the switch)."""
    if not out.dense_dir.is_dir():
        return
    for old in out.dense_dir.iterdir():
        if old.is_dir() and old.name not in (keep, also):
            shutil.rmtree(old, ignore_errors=True)
