"""The chunk vectors' own copy (``OUT/dense/<key>/``), which a search reads without Chroma.

For an embedded index of at most :data:`MAX_CHUNKS` chunks, ``digest index`` writes every
chunk's vector in document order (``vectors.npy``, float32, unit length), the position of
the document it belongs to (``owners.npy``) and its id (``chunks.npy``).  A search
memory-maps them and scores every chunk exactly (one matrix-vector product, about a
millisecond per 10,000 chunks), so a one-off ``digest search`` neither imports chromadb nor
loads its HNSW index: most of a cold search's time before.  Larger indexes, and a shared
Chroma server, are searched through Chroma's HNSW index (approximate, sub-linear).

The copy is derived: its vectors are the ones stored in Chroma (re-used from the previous
copy, or read back from Chroma), its directory name hashes the chunk ids in order, and the
index documents record which copy belongs to them (``retriever:dense`` in their meta), so
a copy never serves documents it was not built for.  Chroma stays the store of record.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from ..store.jsonl import content_hash
from ..store.layout import OutDir

log = logging.getLogger(__name__)

FORMAT = "dense-v1"
MAX_CHUNKS = 50_000  # beyond: brute force would pass ~20 ms a query; Chroma's HNSW answers
_FETCH = 500  # vectors read back from Chroma at a time
_FILES = ("vectors.npy", "owners.npy", "chunks.npy")


class VectorCopy:
    """A copy opened for searching (memory-mapped: opening reads nothing)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.vectors = np.load(path / "vectors.npy", mmap_mode="r")
        self.owners = np.load(path / "owners.npy", mmap_mode="r")
        if len(self.vectors) != len(self.owners):
            raise ValueError(f"{path}: vectors and owners differ in length")

    @staticmethod
    def open(out: OutDir, info: dict[str, Any] | None, collection: str, n_docs: int) -> VectorCopy | None:
        """The copy the index documents recorded, if it is there and belongs to ``collection``
        (the current embedding settings); None otherwise (the search asks Chroma)."""
        if not info or info.get("collection") != collection or not info.get("dir"):
            return None
        try:
            copy = VectorCopy(out.dense_dir / str(info["dir"]))
        except (OSError, ValueError) as exc:
            log.info("dense vector copy unreadable (%s): searching Chroma", exc)
            return None
        if len(copy.owners) and int(copy.owners.max()) >= n_docs:
            return None
        return copy

    def __len__(self) -> int:
        return len(self.owners)

    def rank(self, vector: np.ndarray, allowed: np.ndarray, depth: int) -> tuple[list[int], dict[int, float]]:
        """Document positions by their best chunk's cosine similarity, best first (at most
        ``depth``), among the ``allowed`` documents; and each one's similarity."""
        if not len(self):
            return [], {}
        sims = np.asarray(self.vectors @ np.asarray(vector, dtype=np.float32), dtype=np.float32)
        owners = np.asarray(self.owners)
        ok = allowed[owners] if len(allowed) else np.zeros(len(owners), dtype=bool)
        sims = np.where(ok, sims, -np.inf)
        want = min(len(sims), 4 * depth + 60)  # enough chunks for `depth` documents, mostly
        top = np.argpartition(-sims, want - 1)[:want] if want < len(sims) else np.arange(len(sims))
        top = top[np.argsort(-sims[top], kind="stable")]
        order: list[int] = []
        similarity: dict[int, float] = {}
        for i in top:
            if not np.isfinite(sims[i]):
                break
            pos = int(owners[i])
            if pos not in similarity:
                similarity[pos] = float(sims[i])
                order.append(pos)
                if len(order) == depth:
                    break
        return order, similarity


def build_copy(
    out: OutDir, collection: Any, chunk_lists: list[list[str]], current: dict[str, Any] | None
) -> dict[str, Any] | None:
    """Write the copy for documents whose chunk ids are ``chunk_lists`` (in document order)
    and return what the index documents record for it; None (and no copy) when the index is
    too large for one.  Vectors come from the ``current`` copy where it has them, the rest
    from Chroma."""
    order = [c for chunks in chunk_lists for c in chunks]
    if len(order) > MAX_CHUNKS:
        log.info("dense: %d chunks, more than %d: searches use Chroma's HNSW index", len(order), MAX_CHUNKS)
        _clean(out, keep=(current or {}).get("dir"))
        return None
    key = content_hash(FORMAT, collection.name, order, length=16)
    target = out.dense_dir / key
    info = {"dir": key, "chunks": len(order), "collection": collection.name}
    if all((target / f).exists() for f in _FILES):
        _clean(out, keep=key, also=(current or {}).get("dir"))
        return info
    known = _current_vectors(out, current)
    missing = [c for c in order if c not in known]
    for i in range(0, len(missing), _FETCH):
        got = collection.get(ids=missing[i : i + _FETCH], include=["embeddings"])
        for cid, vec in zip(got["ids"], got["embeddings"], strict=True):
            known[cid] = np.asarray(vec, dtype=np.float32)
    absent = [c for c in order if c not in known]
    if absent:  # Chroma lost them (cannot happen after the sync): no copy, Chroma answers
        log.warning("dense: %d chunk vectors missing from Chroma; searches use Chroma", len(absent))
        return None
    dim = len(next(iter(known.values()))) if known else 0
    vectors = np.zeros((len(order), dim), dtype=np.float32)
    for i, cid in enumerate(order):
        vectors[i] = known[cid]
    owners = np.asarray([pos for pos, chunks in enumerate(chunk_lists) for _ in chunks], dtype=np.int32)
    _write(target, vectors, owners, np.asarray(order, dtype="S"))
    log.info("dense: vector copy of %d chunks (%d read back from Chroma)", len(order), len(missing))
    _clean(out, keep=key, also=(current or {}).get("dir"))
    return info


def _current_vectors(out: OutDir, current: dict[str, Any] | None) -> dict[str, np.ndarray]:
    if not current or not current.get("dir"):
        return {}
    path = out.dense_dir / str(current["dir"])
    try:
        chunks = np.load(path / "chunks.npy")
        vectors = np.load(path / "vectors.npy", mmap_mode="r")
    except (OSError, ValueError):
        return {}
    return {c.decode(): np.asarray(v) for c, v in zip(chunks, vectors, strict=False)}


def _write(target: Path, vectors: np.ndarray, owners: np.ndarray, chunks: np.ndarray) -> None:
    """The three files into a fresh directory, renamed into place when complete."""
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name, arr in zip(_FILES, (vectors, owners, chunks), strict=True):
        with open(tmp / name, "wb") as f:
            np.save(f, arr)
            f.flush()
            os.fsync(f.fileno())
    shutil.rmtree(target, ignore_errors=True)
    os.replace(tmp, target)


def _clean(out: OutDir, keep: str | None, also: str | None = None) -> None:
    """Remove the copies no index generation uses (the one in use stays until the switch)."""
    if not out.dense_dir.is_dir():
        return
    for old in out.dense_dir.iterdir():
        if old.is_dir() and old.name not in (keep, also):
            shutil.rmtree(old, ignore_errors=True)
