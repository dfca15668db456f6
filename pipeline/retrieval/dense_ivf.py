"""The partitioned (IVF, inverted-file) layout of a large vector copy (``dense_vectors.py``).

Spherical k-means (numpy, seeded, on a sample of at most about 20,000 rows) gives ``nlist``
unit centroids (about the square root of the row count); every row belongs to the list of
its nearest centroid (largest dot product), and the copy stores its rows grouped by list,
so list ``c`` is rows ``offsets[c]:offsets[c+1]``: one contiguous slice of the memory-mapped
vectors.  A query scores the centroids and then only the rows of the lists it probes (the
best 10 %, widened until they hold enough documents), exactly.  A re-index re-uses the
centroids while the copy has grown by at most :data:`REUSE_GROWTH` since they were trained.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

FORMAT = "dense-ivf-v1"
FILES = ("centroids.npy", "offsets.npy", "ivf.json")
NLIST_MIN, NLIST_MAX = 64, 4096
SAMPLE = 20_000  # rows k-means is trained on (more only for very many lists)
ITERATIONS = 10
SEED = 20_240_607
REUSE_GROWTH = 1.25  # a re-index re-uses the centroids up to this growth; beyond: retrain
PROBE_MIN, PROBE_SHARE = 8, 0.1  # lists a query probes first: max(8, 10 % of them)
_BATCH = 1 << 22  # entries of one batch's rows x centroids similarity matrix (16 MB)
_PRODUCT = 1 << 18  # entries of one query-time matrix-vector product: OpenBLAS keeps it on one
# thread (a threaded one costs more than it saves at this size, and can stall on a busy machine)


def nlist_for(n: int) -> int:
    """About sqrt(n) lists, within [NLIST_MIN, NLIST_MAX] (and some rows per list for tiny n)."""
    k = min(max(round(math.sqrt(n)), NLIST_MIN), NLIST_MAX)
    return max(1, min(k, n // 4))


def assign(vectors: np.ndarray, centroids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's nearest centroid (largest dot product) and that similarity, in batches."""
    labels = np.empty(len(vectors), dtype=np.int32)
    best = np.empty(len(vectors), dtype=np.float32)
    step = max(1, _BATCH // max(1, len(centroids)))
    for i in range(0, len(vectors), step):
        sims = np.asarray(vectors[i : i + step], dtype=np.float32) @ centroids.T
        labels[i : i + step] = sims.argmax(axis=1)
        best[i : i + step] = sims[np.arange(len(sims)), labels[i : i + step]]
    return labels, best


def train(vectors: np.ndarray, nlist: int, seed: int = SEED) -> np.ndarray:
    """``nlist`` unit centroids: Lloyd's iterations of spherical k-means on a seeded sample."""
    rng = np.random.default_rng(seed)
    size = min(len(vectors), max(SAMPLE, 8 * nlist))
    sample = np.asarray(vectors[np.sort(rng.choice(len(vectors), size, replace=False))], dtype=np.float32)
    centroids = sample[rng.choice(size, nlist, replace=False)]
    for _ in range(ITERATIONS):
        labels, best = assign(sample, centroids)
        counts = np.bincount(labels, minlength=nlist)
        sums = np.zeros_like(centroids)
        filled = np.flatnonzero(counts)
        order = np.argsort(labels, kind="stable")
        starts = np.concatenate(([0], np.cumsum(counts)[:-1]))[filled]
        sums[filled] = np.add.reduceat(sample[order], starts, axis=0)
        empty = np.flatnonzero(counts == 0)  # re-seeded with the rows farthest from theirs
        sums[empty] = sample[np.argsort(best, kind="stable")[: len(empty)]]
        centroids = _unit(sums)
    return centroids


@dataclass
class Partition:
    order: np.ndarray  # the rows (document order) in list order
    centroids: np.ndarray
    offsets: np.ndarray  # nlist + 1: list c is rows offsets[c]:offsets[c+1] of the stored copy
    meta: dict[str, Any]  # ivf.json: format, nlist, the row count the centroids were trained on


def partition(vectors: np.ndarray, previous: Path | None) -> Partition:
    """The lists of ``vectors``: with the ``previous`` copy's centroids when they still fit
    (same dimension, growth at most REUSE_GROWTH, not shrunk by half), else newly trained."""
    n, dim = vectors.shape
    reused = _reusable(previous, n, dim) if previous is not None else None
    centroids, trained_on = reused or (train(vectors, nlist_for(n)), n)
    labels, _ = assign(vectors, centroids)
    offsets = np.zeros(len(centroids) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum(np.bincount(labels, minlength=len(centroids)))
    meta = {"format": FORMAT, "nlist": len(centroids), "trained_on": trained_on, "reused": bool(reused)}
    return Partition(np.argsort(labels, kind="stable"), centroids, offsets, meta)


def _reusable(path: Path, n: int, dim: int) -> tuple[np.ndarray, int] | None:
    try:
        meta = json.loads((path / "ivf.json").read_text())
        centroids = np.load(path / "centroids.npy")
        trained_on = int(meta["trained_on"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if meta.get("format") != FORMAT or centroids.ndim != 2 or centroids.shape[1] != dim:
        return None
    if not trained_on / 2 <= n <= REUSE_GROWTH * trained_on:
        return None
    return np.asarray(centroids, dtype=np.float32), trained_on


class Lists:
    """The partition of an opened copy (centroids and list bounds: small, read whole)."""

    def __init__(self, path: Path, n_rows: int, dim: int) -> None:
        centroids = np.load(path / "centroids.npy")
        offsets = np.load(path / "offsets.npy")
        if (
            centroids.ndim != 2
            or not len(centroids)
            or centroids.shape[1] != dim
            or offsets.shape != (len(centroids) + 1,)
            or offsets[0] != 0
            or offsets[-1] != n_rows
            or bool(np.any(np.diff(offsets) < 0))
        ):
            raise ValueError(f"{path}: centroids and list offsets do not fit the vectors")
        self.centroids = np.ascontiguousarray(centroids, dtype=np.float32)
        self.bounds: list[int] = offsets.tolist()
        self.first = min(len(centroids), max(PROBE_MIN, math.ceil(PROBE_SHARE * len(centroids))))
        self.probe_rows = n_rows * self.first // len(centroids)  # about what a first probe reads

    def __len__(self) -> int:
        return len(self.centroids)

    def rank(
        self,
        vectors: np.ndarray,
        owners: np.ndarray,
        q: np.ndarray,
        depth: int,
        row_ok: np.ndarray | None = None,
        nprobe: int | None = None,
    ) -> tuple[list[int], dict[int, float]]:
        """The best documents among the (``row_ok``) rows of the lists nearest ``q``: the first
        ``nprobe`` lists, doubled until they hold ``depth`` documents or are all."""
        ranked = np.argsort(-(self.centroids @ q), kind="stable").tolist()
        want, done = min(len(ranked), nprobe or self.first), 0
        sims: list[np.ndarray] = []
        whose: list[np.ndarray] = []
        while True:
            for c in ranked[done:want]:
                a, b = self.bounds[c], self.bounds[c + 1]
                if a == b:
                    continue
                s, o = scores(vectors, q, a, b), owners[a:b]
                if row_ok is not None:
                    keep = row_ok[a:b]
                    s, o = s[keep], o[keep]
                sims.append(s)
                whose.append(o)
            found = top_documents(_join(sims, np.float32), _join(whose, np.int32), depth)
            if len(found[0]) >= depth or want == len(ranked):
                return found
            done, want = want, min(len(ranked), 2 * want)


def scores(vectors: np.ndarray, q: np.ndarray, a: int, b: int, rows: np.ndarray | None = None) -> np.ndarray:
    """``vectors[a:b] @ q`` (or ``vectors[rows[a:b]] @ q``), in products of _PRODUCT entries."""
    step = max(1, _PRODUCT // max(1, len(q)))
    if b - a <= step:
        return (vectors[a:b] if rows is None else vectors[rows[a:b]]) @ q
    return np.concatenate([scores(vectors, q, i, min(b, i + step), rows) for i in range(a, b, step)])


TIE = 1e-5  # cosine similarities closer than this are equal (float32 sums differ by ~1e-7)


def top_documents(sims: np.ndarray, owners: np.ndarray, depth: int) -> tuple[list[int], dict[int, float]]:
    """Each document's best row (``owners``: its document), best first, at most ``depth``;
    a row of similarity -inf is not allowed.  Similarities within :data:`TIE` rank by row
    (document order): which of two equal ones the arithmetic puts ahead depends on the CPU's
    vector instructions, and a ranking should not."""
    n = len(sims)
    want = min(n, 4 * depth + 60)  # enough rows for `depth` documents, mostly; else more
    while True:
        top = np.argpartition(-sims, want - 1)[:want] if want < n else np.arange(n)
        top = top[np.lexsort((top, -np.round(sims[top] / TIE)))]
        order: list[int] = []
        similarity: dict[int, float] = {}
        for s, pos in zip(sims[top].tolist(), owners[top].tolist(), strict=True):
            if not math.isfinite(s):
                return order, similarity
            if pos not in similarity:
                similarity[pos] = s
                order.append(pos)
                if len(order) == depth:
                    return order, similarity
        if want >= n:
            return order, similarity
        want = min(n, 4 * want)


def _join(parts: list[np.ndarray], dtype: type) -> np.ndarray:
    return np.concatenate(parts) if parts else np.empty(0, dtype=dtype)


def _unit(m: np.ndarray) -> np.ndarray:
    return (m / np.maximum(np.linalg.norm(m, axis=1, keepdims=True), 1e-12)).astype(np.float32)
