"""``top_positions``: the same order as a stable sort of every score, in linear time."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.retrieval.lexical import top_positions


def _by_sorting(scores: np.ndarray, depth: int) -> list[int]:
    order = np.argsort(-scores, kind="stable")
    return [int(i) for i in order[:depth] if scores[i] > 0]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from([0.0, 0.5, 1.0, 1.5, 2.0, 3.25]), min_size=0, max_size=60),
    st.integers(min_value=0, max_value=70),
)
def test_equals_a_stable_sort_ties_included(values: list[float], depth: int) -> None:
    scores = np.asarray(values, dtype=np.float32)
    assert top_positions(scores, depth) == _by_sorting(scores, depth)


def test_large_random_scores() -> None:
    rng = np.random.default_rng(7)
    scores = np.where(rng.random(90_000) < 0.3, rng.random(90_000).astype(np.float32), 0).astype(np.float32)
    for depth in (1, 10, 60, 200):
        assert top_positions(scores, depth) == _by_sorting(scores, depth)
