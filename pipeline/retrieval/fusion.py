"""Weighted reciprocal-rank fusion of the retrievers' rankings, with weights by query language.

The embedding model and the English BM25 only understand the Latin part of a Korean query,
so for Korean queries their weights shrink with the query's share of Latin letters.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..settings import Settings
from ..text.hangul import hangul_ratio, has_hangul
from .base import RETRIEVERS, Ranking


def query_language(text: str) -> str:
    return "ko" if has_hangul(text) else "en"


def fusion_weights(settings: Settings, query: str) -> dict[str, float]:
    """Retriever weights for ``query`` (every registered retriever; 0.0 when not configured)."""
    if query_language(query) == "en":
        weights = dict(settings.search.weights_en)
    else:
        weights = dict(settings.search.weights_ko)
        latin = 1.0 - hangul_ratio(query)
        for name, spec in RETRIEVERS.items():
            if spec.latin_only:
                weights[name] = weights.get(name, 0.0) * latin
    return {name: float(weights.get(name, 0.0)) for name in RETRIEVERS}


def fuse(
    rankings: dict[str, Ranking], weights: dict[str, float], names: Iterable[str], rrf_k: int
) -> tuple[dict[int, float], dict[int, dict[str, int]]]:
    """Fused score and per-retriever rank of every document some of ``names`` ranked."""
    names = list(names)
    fused: dict[int, float] = {}
    ranks: dict[int, dict[str, int]] = {}
    for name in names:
        weight = weights[name] if len(names) > 1 else 1.0
        if weight <= 0 or name not in rankings:
            continue
        for rank, pos in enumerate(rankings[name].order, 1):
            fused[pos] = fused.get(pos, 0.0) + weight / (rrf_k + rank)
            ranks.setdefault(pos, {})[name] = rank
    return fused, ranks
