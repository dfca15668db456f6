"""The partitioned (IVF) vector copy (``dense_ivf.py``), driven with a tiny EXACT_MAX: its files
hold every chunk once, grouped by list, with Chroma's vectors; probing the nearest lists
finds nearly all of the exact ranking's documents (all of them, probing every list); a
filter is applied exactly; a re-index re-uses the centroids while the copy grows little."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pipeline.retrieval import dense_ivf, dense_vectors
from pipeline.retrieval.dense_vectors import VectorCopy, build_copy
from pipeline.retrieval.searcher import Searcher
from pipeline.stages.index import index_stage
from pipeline.store.layout import OutDir
from tests.retrieval.helpers import change_translation, make_retrieval_out
from tests.retrieval.test_dense_copy import QUERIES, _chroma_vectors


class FakeCollection:
    """What build_copy asks of a Chroma collection: its name and ``get`` by ids."""

    name = "synthetic"

    def __init__(self, ids: list[str], vectors: np.ndarray) -> None:
        self.vectors = dict(zip(ids, vectors, strict=True))
        self.asked = 0

    def get(self, ids: list[str], include: list[str]) -> dict:
        self.asked += len(ids)
        found = [i for i in ids if i in self.vectors]
        return {"ids": found, "embeddings": [self.vectors[i] for i in found]}


class SliceRecorder:
    """The copy's vectors, counting the rows a query reads."""

    def __init__(self, vectors: np.ndarray) -> None:
        self.vectors, self.rows = vectors, 0

    def __getitem__(self, rows: slice) -> np.ndarray:
        got = self.vectors[rows]
        self.rows += len(got)
        return got


def _unit(m: np.ndarray) -> np.ndarray:
    return (m / np.linalg.norm(m, axis=-1, keepdims=True)).astype(np.float32)


def _clustered(n: int, seed: int = 0, dim: int = 32, clusters: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """``n`` unit rows around ``clusters`` random centres (noise as long as the centre), and
    the centres."""
    rng = np.random.default_rng(seed)
    centres = _unit(rng.normal(size=(clusters, dim)))
    rows = centres[rng.integers(clusters, size=n)] + rng.normal(size=(n, dim)) / np.sqrt(dim)
    return _unit(rows), centres


def _build(tmp_path, vectors: np.ndarray, current=None, name: str = "out", collection=None):
    """The copy of documents of 3 consecutive rows each, through build_copy."""
    ids = [f"c{i}" for i in range(len(vectors))]
    chunk_lists = [ids[i : i + 3] for i in range(0, len(ids), 3)]
    out = OutDir(tmp_path / name)
    collection = collection or FakeCollection(ids, vectors)
    info = build_copy(out, collection, chunk_lists, current)
    copy = VectorCopy.open(out, info, collection.name, len(chunk_lists))
    assert copy is not None
    return copy, info, out


def _exact(vectors: np.ndarray, owners: np.ndarray, q: np.ndarray, allowed: np.ndarray, depth: int):
    """Brute force, in the test: each allowed document's best chunk, best first."""
    sims = vectors @ q
    best: dict[int, float] = {}
    for s, pos in zip(sims.tolist(), owners.tolist(), strict=True):
        if allowed[pos] and s > best.get(pos, -2.0):
            best[pos] = s
    order = sorted(best, key=lambda p: -best[p])[:depth]
    return order, best


def _same_ranking(got, want) -> None:
    """The same ranking, up to the order of tied documents (the mock's hashed embeddings tie)."""
    (order, similarity), (want_order, want_similarity) = got, want
    assert len(order) == len(want_order)
    np.testing.assert_allclose(
        [similarity[p] for p in order], [want_similarity[p] for p in want_order], atol=1e-5
    )
    for pos in order:
        assert abs(similarity[pos] - want_similarity.get(pos, similarity[pos])) < 1e-5


def _check_lists(copy: VectorCopy, order: list[str], owners_by_chunk: dict[str, int], chroma: dict) -> None:
    """Every chunk once, its owner and Chroma's vector with it; lists contiguous, each row in
    the list of its nearest centroid, in document order within its list."""
    chunks = [c.decode() for c in np.load(copy.path / "chunks.npy")]
    assert sorted(chunks) == sorted(order) and len(set(chunks)) == len(chunks)
    assert [owners_by_chunk[c] for c in chunks] == list(copy.owners)
    for row, cid in enumerate(chunks):
        np.testing.assert_allclose(copy.vectors[row], chroma[cid], atol=1e-6)
    offsets = np.load(copy.path / "offsets.npy")
    centroids = np.load(copy.path / "centroids.npy")
    assert offsets[0] == 0 and offsets[-1] == len(chunks) and np.all(np.diff(offsets) >= 0)
    assert len(offsets) == len(centroids) + 1
    np.testing.assert_allclose(np.linalg.norm(centroids, axis=1), 1.0, atol=1e-5)
    lists = np.repeat(np.arange(len(centroids)), np.diff(offsets))
    assert list((np.asarray(copy.vectors) @ centroids.T).argmax(axis=1)) == list(lists)
    position = {c: i for i, c in enumerate(order)}
    for c in range(len(centroids)):
        rows = [position[x] for x in chunks[offsets[c] : offsets[c + 1]]]
        assert rows == sorted(rows)


def _fixture_copy(settings):
    docs = OutDir(settings.out_dir).open_index_docs()
    info = docs.meta("retriever:dense")
    copy = VectorCopy.open(OutDir(settings.out_dir), info, info["collection"], len(docs))
    assert copy is not None and copy.lists is not None and info["layout"] == "ivf"
    order = [c for i in range(len(docs)) for c in docs[i].chunks]
    owners = {c: i for i in range(len(docs)) for c in docs[i].chunks}
    docs.close()  # its snapshot would hold up the next index's WAL checkpoint
    return copy, order, owners


@pytest.fixture
def tiny_exact_max(monkeypatch):
    monkeypatch.setattr(dense_vectors, "EXACT_MAX", 4)


def _all_lists_rank_exactly(settings, copy):
    """Every query, with every list of ``copy`` probed, ranks as brute force over its rows;
    returns the dense retriever over the folder."""
    retriever = Searcher(settings, retrievers=["dense"]).retrievers["dense"]
    allowed = np.ones(len(retriever.docs), dtype=bool)
    for q in QUERIES:
        vec = retriever.embed([q])[0]
        want = _exact(np.asarray(copy.vectors), np.asarray(copy.owners), vec, allowed, 5)
        _same_ranking(copy.rank(vec, allowed, 5, nprobe=len(copy.lists)), want)
    return retriever


def test_a_partitioned_copy_holds_chromas_vectors_list_by_list(tmp_path, tiny_exact_max):
    settings = make_retrieval_out(tmp_path, chunk_tokens=16)
    copy, order, owners = _fixture_copy(settings)
    _check_lists(copy, order, owners, _chroma_vectors(settings))
    assert len(copy.lists) > 1
    # a search over it, every list probed, is the exact ranking
    retriever = _all_lists_rank_exactly(settings, copy)
    allowed = np.ones(len(retriever.docs), dtype=bool)
    for q in QUERIES:
        assert retriever.rank(q, allowed, 5).order  # the searcher reads the partitioned copy


def test_probing_finds_nearly_all_of_the_exact_ranking(tmp_path, monkeypatch):
    vectors, centres = _clustered(3000)
    exact, info, _ = _build(tmp_path, vectors, name="exact")
    assert info["layout"] == "exact" and exact.lists is None
    monkeypatch.setattr(dense_vectors, "EXACT_MAX", 20)
    ivf, info, _ = _build(tmp_path, vectors, name="ivf")
    assert info["layout"] == "ivf" and len(ivf.lists) == 64 and ivf.lists.first == 8
    rng = np.random.default_rng(1)
    queries = _unit(centres[rng.integers(len(centres), size=40)] + rng.normal(size=(40, 32)) / 6)
    allowed = np.ones(1000, dtype=bool)
    recall = []
    for q in queries:
        read = SliceRecorder(np.asarray(ivf.vectors))
        ivf.lists.rank(read, np.asarray(ivf.owners), q, 10)
        assert read.rows < 3000 / 3  # the nearest 8 of 64 lists (or a few more), not every row
        want = exact.rank(q, allowed, 10)
        got = ivf.rank(q, allowed, 10)
        recall.append(len(set(got[0]) & set(want[0])) / 10)
        for pos in got[0]:  # what it finds, it scores exactly
            assert abs(got[1][pos] - want[1].get(pos, got[1][pos])) < 1e-5
        _same_ranking(ivf.rank(q, allowed, 10, nprobe=len(ivf.lists)), want)
    assert np.mean(recall) >= 0.9, np.mean(recall)


def test_a_filter_is_applied_exactly(tmp_path, monkeypatch):
    vectors, centres = _clustered(3000)
    monkeypatch.setattr(dense_vectors, "EXACT_MAX", 20)
    ivf, _, _ = _build(tmp_path, vectors)
    owners = np.asarray(ivf.owners)
    q = _unit(centres[3] + 0.1)
    few = np.zeros(1000, dtype=bool)
    few[[5, 77, 400, 401, 999]] = True  # 15 chunks: fewer than a probe reads, scored exactly
    got = ivf.rank(q, few, 10)
    assert sorted(got[0]) == [5, 77, 400, 401, 999]
    _same_ranking(got, _exact(np.asarray(ivf.vectors), owners, q, few, 10))
    # 429 chunks, more than a probe reads: the probed lists, those documents only
    many = np.zeros(1000, dtype=bool)
    many[::7] = True
    assert ivf.lists.probe_rows == 375 and int(many[owners].sum()) == 429
    got = ivf.rank(q, many, 10)
    assert len(got[0]) == 10 and all(many[p] for p in got[0])
    _same_ranking(ivf.rank(q, many, 10, nprobe=64), _exact(np.asarray(ivf.vectors), owners, q, many, 10))
    assert ivf.rank(q, np.zeros(1000, dtype=bool), 10) == ([], {})


def test_a_reindex_reuses_the_centroids_while_the_copy_grows_little(tmp_path, monkeypatch):
    monkeypatch.setattr(dense_vectors, "EXACT_MAX", 20)
    vectors, _ = _clustered(4200)
    first, info, out = _build(tmp_path, vectors[:3000])
    centroids = (first.path / "centroids.npy").read_bytes()
    # 20 % more rows: same centroids; only the new rows are asked of Chroma
    chroma = FakeCollection([f"c{i}" for i in range(3600)], vectors[:3600])
    grown, info2, _ = _build(tmp_path, vectors[:3600], current=info, collection=chroma)
    assert chroma.asked == 600
    assert (grown.path / "centroids.npy").read_bytes() == centroids
    meta = json.loads((grown.path / "ivf.json").read_text())
    assert meta["reused"] and meta["trained_on"] == 3000
    assert grown.path != first.path and grown.path.parent == first.path.parent
    # 40 % more than they were trained on: trained anew
    retrained, _, _ = _build(tmp_path, vectors, current=info2)
    meta = json.loads((retrained.path / "ivf.json").read_text())
    assert not meta["reused"] and meta["trained_on"] == 4200 and len(retrained.lists) == 65


def test_a_reindexed_fixture_keeps_its_centroids_and_ranks_exactly(tmp_path, tiny_exact_max):
    settings = make_retrieval_out(tmp_path, chunk_tokens=16)
    copy, _, _ = _fixture_copy(settings)
    centroids = (copy.path / "centroids.npy").read_bytes()
    entries = (tmp_path / "entries.jsonl").read_text()
    # remove an entry and change one translation; then add the entry back
    change_translation(tmp_path, 5, "It couples web agents with a learned world model of page transitions.")
    (tmp_path / "entries.jsonl").write_text("\n".join(entries.splitlines()[:-1]) + "\n")
    index_stage(settings)
    (tmp_path / "entries.jsonl").write_text(entries)
    index_stage(settings)
    again, order, owners = _fixture_copy(settings)
    assert again.path != copy.path and (again.path / "centroids.npy").read_bytes() == centroids
    _check_lists(again, order, owners, _chroma_vectors(settings))
    _all_lists_rank_exactly(settings, again)


def test_an_inconsistent_partition_is_not_read(tmp_path, monkeypatch):
    monkeypatch.setattr(dense_vectors, "EXACT_MAX", 20)
    vectors, _ = _clustered(300)
    copy, info, out = _build(tmp_path, vectors)
    offsets = np.load(copy.path / "offsets.npy")
    np.save(copy.path / "offsets.npy", offsets[:-1])
    assert VectorCopy.open(out, info, FakeCollection.name, 100) is None
    (copy.path / "centroids.npy").unlink()
    assert VectorCopy.open(out, info, FakeCollection.name, 100) is None
    assert dense_ivf.nlist_for(177_000) == 421 and dense_ivf.nlist_for(10**8) == 4096
    assert dense_ivf.nlist_for(1000) == 64 and dense_ivf.nlist_for(18) == 4


def test_the_vectors_of_other_embedding_settings_are_not_reused(tmp_path):
    """The same chunk ids in another collection (another embedding model): read from it."""
    vectors, _ = _clustered(30)
    _, info, _ = _build(tmp_path, vectors)
    other = FakeCollection([f"c{i}" for i in range(30)], -vectors)
    other.name = "other"
    copy, _, _ = _build(tmp_path, -vectors, current=info, collection=other)
    assert other.asked == 30
    np.testing.assert_array_equal(np.asarray(copy.vectors), -vectors)


def test_the_products_in_pieces_are_the_product(monkeypatch):
    monkeypatch.setattr(dense_ivf, "_PRODUCT", 32 * 7)  # 7 rows a product
    vectors, centres = _clustered(100)
    rows = np.arange(0, 100, 3)
    np.testing.assert_allclose(
        dense_ivf.scores(vectors, centres[0], 5, 95), vectors[5:95] @ centres[0], atol=1e-6
    )
    np.testing.assert_allclose(
        dense_ivf.scores(vectors, centres[0], 0, len(rows), rows), vectors[rows] @ centres[0], atol=1e-6
    )
