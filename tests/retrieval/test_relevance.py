"""A page of hits is judged in one call (``relevances``): the same figure, document by
document, as the idf-weighted term coverage it stands for."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.retrieval.searcher import Filters, Searcher
from tests.retrieval.helpers import make_retrieval_out


@pytest.fixture(scope="module")
def searcher(tmp_path_factory):
    return Searcher(make_retrieval_out(tmp_path_factory.mktemp("relevance")))


def _coverage(ranking, pos: int) -> float:
    """The definition, token by token: the share of the query's idf mass the document holds."""
    weights = ranking.weights or [1.0] * len(ranking.tokens)
    pairs = list(zip(ranking.tokens, weights, strict=True))
    total = sum(ranking.index.idf(t) * w for t, w in pairs)
    have = sum(ranking.index.idf(t) * w for t, w in pairs if ranking.index.contains(t, pos))
    return have / total if total > 0 else 0.0


@pytest.mark.parametrize(
    "query",
    ["web agents with a world model", "스마트폰 조작 에이전트", "diffusion distillation", "zzqx unknown"],
)
def test_relevances_equal_the_coverage_of_each_document(searcher, query):
    rankings = searcher.rankings(searcher.plan(query), Filters(), 50, {"dense", "bm25_en", "bm25_ko"})
    positions = list(range(len(searcher.docs)))[::-1]  # any order, repeats allowed
    positions += positions[:2]
    judged = 0
    for name, ranking in rankings.items():
        got = ranking.relevances(positions)
        if name == "dense":
            want = [ranking.similarity.get(p, 0.0) for p in positions]
        else:
            want = [_coverage(ranking, p) for p in positions]
            judged += sum(w > 0 for w in want)
        np.testing.assert_allclose(got, want, atol=1e-12)
    lang = "ko" if query.startswith("스") else "en"
    assert searcher.relevances(rankings, positions, lang) == pytest.approx(
        [searcher.relevance(rankings, p, lang) for p in positions]
    )
    if not query.startswith("zzqx"):
        assert judged  # the query's words are in some documents: the check saw non-zero values
