"""Search ranks the seeds as it did before the index storage changed: top-10 entry ids for a
handful of queries, hybrid and each retriever alone, against a recorded fixture
(``tests/fixtures/record_search_rankings.py`` re-records it when a change is intended)."""

from __future__ import annotations

import json

import pytest

from tests.paths import FIXTURES
from tests.retrieval.rankings import QUERIES, build_seeds_index, rankings

RECORDED = json.loads((FIXTURES / "search_rankings_seeds.json").read_text(encoding="utf-8"))["queries"]


@pytest.fixture(scope="module")
def seeds_rankings(tmp_path_factory):
    return rankings(build_seeds_index(tmp_path_factory.mktemp("seeds")))


def test_the_fixture_matches_the_queries():
    assert [(r["query"], r["filters"]) for r in RECORDED] == QUERIES


@pytest.mark.parametrize("label", ["lexical", "bm25_en", "bm25_ko", "dense"])
def test_rankings_equal_the_recorded_ones(seeds_rankings, label):
    diffs = [
        (got["query"], got[label], want[label])
        for got, want in zip(seeds_rankings, RECORDED, strict=True)
        if got[label] != want[label]
    ]
    assert not diffs, diffs
