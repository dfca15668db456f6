"""The chunk vectors' own copy (``dense_vectors.py``): it holds exactly Chroma's vectors, in
document order, follows every re-index (added, changed, removed entries) re-using what it
had, ranks as Chroma does (exact cosine), and spares a search the chromadb import (the
partitioned copy too: ``test_dense_ivf.py``); a very large index, or a Chroma server, is
searched through Chroma."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from pipeline.retrieval import dense_vectors
from pipeline.retrieval.dense import get_collection, open_client
from pipeline.retrieval.searcher import Searcher
from pipeline.stages.index import index_stage
from pipeline.store.docstore import DocStore
from pipeline.store.layout import OutDir
from tests.paths import ROOT
from tests.retrieval.helpers import change_translation, make_retrieval_out

QUERIES = [
    "web agents with a world model",
    "multilingual visual tokens",
    "diffusion distillation",
    "에이전트",
]


def _chroma_vectors(settings) -> dict[str, np.ndarray]:
    from pipeline.retrieval.embeddings import embedding_function

    col = get_collection(settings, open_client(settings), embedding_function(settings), create=False)
    got = col.get(include=["embeddings"])
    return {c: np.asarray(v, dtype=np.float32) for c, v in zip(got["ids"], got["embeddings"], strict=True)}


def _copy_of(settings) -> tuple[dense_vectors.VectorCopy, DocStore]:
    docs = OutDir(settings.out_dir).open_index_docs()
    info = docs.meta("retriever:dense")
    assert info, "the index recorded no vector copy"
    return dense_vectors.VectorCopy(OutDir(settings.out_dir).dense_dir / info["dir"]), docs


def _check_copy_equals_chroma(settings) -> None:
    copy, docs = _copy_of(settings)
    chroma = _chroma_vectors(settings)
    order = [c for i in range(len(docs)) for c in docs[i].chunks]
    chunks = [c.decode() for c in np.load(copy.path / "chunks.npy")]
    assert chunks == order and sorted(order) == sorted(chroma)
    owners = [i for i in range(len(docs)) for _ in docs[i].chunks]
    assert list(copy.owners) == owners
    for row, cid in enumerate(order):
        np.testing.assert_allclose(copy.vectors[row], chroma[cid], atol=1e-6)
    docs.close()  # its snapshot would hold up the next index's WAL checkpoint


def _recorded(out) -> str:
    docs = OutDir(out).open_index_docs()
    try:
        return docs.meta("retriever:dense")["dir"]
    finally:
        docs.close()


def test_the_copy_holds_chromas_vectors_and_follows_a_reindex(tmp_path):
    settings = make_retrieval_out(tmp_path)
    _check_copy_equals_chroma(settings)
    first = _recorded(tmp_path)

    # change one translation, drop one entry: the copy follows, the old one is removed
    change_translation(tmp_path, 5, "It couples web agents with a learned world model of page transitions.")
    entries = (tmp_path / "entries.jsonl").read_text().splitlines()
    (tmp_path / "entries.jsonl").write_text("\n".join(entries[:-1]) + "\n")
    index_stage(settings)
    _check_copy_equals_chroma(settings)
    now = _recorded(tmp_path)
    assert now != first
    # the copy a reader may still hold stays until the next index, then goes
    index_stage(settings)
    assert (OutDir(tmp_path).dense_dir / now).exists() and not (OutDir(tmp_path).dense_dir / first).exists()


def test_the_copy_ranks_as_chroma_does(tmp_path):
    """Exact cosine over every chunk: each document's similarity is 1 - Chroma's distance of its
    best chunk, and the top documents are Chroma's."""
    settings = make_retrieval_out(tmp_path)
    with_copy = Searcher(settings, retrievers=["dense"]).retrievers["dense"]
    assert with_copy.copy is not None
    no_copy_settings = settings.model_copy(deep=True)
    docs = OutDir(tmp_path).open_index_docs()
    docs._meta.pop("retriever:dense")  # as an index without a copy
    chroma = type(with_copy)(no_copy_settings, docs)
    assert chroma.copy is None and chroma.collection is not None
    allowed = np.ones(len(docs), dtype=bool)
    for q in QUERIES:
        a, b = with_copy.rank(q, allowed, 5), chroma.rank(q, allowed, 5)
        assert a.order[:3] == b.order[:3], q
        for pos in set(a.order) & set(b.order):
            assert abs(a.relevance(pos) - b.relevance(pos)) < 1e-4, q


def test_a_filter_applies_to_the_copy(tmp_path):
    settings = make_retrieval_out(tmp_path)
    searcher = Searcher(settings, retrievers=["dense"])
    hits = searcher.search("agents", k=10, retrievers=("dense",), min_votes=20)
    assert hits and all((h.votes or 0) >= 20 for h in hits)


def test_a_large_index_is_searched_through_chroma(tmp_path, monkeypatch):
    monkeypatch.setattr(dense_vectors, "MAX_CHUNKS", 3)
    settings = make_retrieval_out(tmp_path)
    docs = OutDir(tmp_path).open_index_docs()
    assert docs.meta("retriever:dense") is None
    assert not any(OutDir(tmp_path).dense_dir.glob("*/vectors.npy"))
    retriever = Searcher(settings, retrievers=["dense"]).retrievers["dense"]
    assert retriever.copy is None and retriever.collection is not None
    assert Searcher(settings).search("web agents", k=3)


def test_other_embedding_settings_do_not_read_the_copy(tmp_path):
    """The copy belongs to one collection (embedding model, chunking): a search with other
    settings goes to Chroma, which says how the index was built."""
    from pipeline.errors import InputError

    settings = make_retrieval_out(tmp_path)
    other = settings.model_copy(update={"index": settings.index.model_copy(update={"chunk_tokens": 77})})
    with pytest.raises(InputError, match="run `digest index` first"):
        Searcher(other, retrievers=["dense"])


@pytest.mark.parametrize("layout", ["exact", "ivf"])
def test_a_search_with_the_copy_does_not_import_chromadb(tmp_path, monkeypatch, layout):
    index = {"embedding": "endpoint"}
    if layout == "ivf":  # partitioned (dense_ivf.py): 18 chunks, more than EXACT_MAX
        monkeypatch.setattr(dense_vectors, "EXACT_MAX", 4)
        index["chunk_tokens"] = 16
    settings = make_retrieval_out(tmp_path, **index)
    code = (
        "import sys, json; from pathlib import Path\n"
        "from pipeline.settings import load_settings\n"
        "from pipeline.retrieval.searcher import Searcher\n"
        f"s = load_settings(out_dir=Path({str(settings.out_dir)!r}), cache_dir=Path({str(settings.cache_dir)!r}),"
        f" progress='off', llm={{'provider': 'mock'}}, index={index!r})\n"
        "searcher = Searcher(s)\n"
        "hits = searcher.search('web agents world model', k=3)\n"
        "partitioned = searcher.retrievers['dense'].copy.lists is not None\n"
        "print(json.dumps([len(hits), partitioned, any(m.split('.')[0] == 'chromadb' for m in sys.modules)]))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    n, partitioned, imported = json.loads(proc.stdout.strip().splitlines()[-1])
    assert n == 3 and partitioned == (layout == "ivf") and not imported
