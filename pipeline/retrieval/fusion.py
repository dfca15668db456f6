"""Weighted reciprocal-rank fusion of the retrievers' rankings, with weights by query language
and retriever (``search.weights_en`` / ``search.weights_ko``).

A retriever that searches the other language's text (the English side for a Korean query)
sees the query through the bridge (``bridge.py``), which renders part of it: its weight is
scaled by that share.  Without a bridge that share is the query's Latin letters, the only
part the English side understands.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..settings import Settings
from ..text.hangul import hangul_ratio, has_hangul
from .base import RETRIEVERS, Ranking


def query_language(text: str) -> str:
    return "ko" if has_hangul(text) else "en"


def fusion_weights(settings: Settings, query: str, other_side: float | None = None) -> dict[str, float]:
    """Retriever weights for ``query`` (every registered retriever; 0.0 when not configured).
    ``other_side``: the share of the query the other language's retrievers understand (the
    bridge's coverage); None: no bridge, the share of Latin letters of a Korean query."""
    lang = query_language(query)
    weights = dict(settings.search.weights_en if lang == "en" else settings.search.weights_ko)
    if other_side is None and lang == "ko":
        latin = 1.0 - hangul_ratio(query)
        for name, spec in RETRIEVERS.items():
            if spec.latin_only:
                weights[name] = weights.get(name, 0.0) * latin
    elif other_side is not None:
        for name, spec in RETRIEVERS.items():
            if spec.side != lang:
                weights[name] = weights.get(name, 0.0) * other_side
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
