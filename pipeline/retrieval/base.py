"""The retriever interface and the registry of retrievers by name.

A retriever ranks the index documents for a query.  Its registry entry names the class
(imported on use), its default fusion weights per query language, and how it takes part
in the search.  The names are defined here once: settings (default weights), the CLI
(``--retriever``), the searcher and the benchmarks read them from :data:`RETRIEVERS`.

A new retriever: one module with a class following :class:`Retriever` and one line here.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy as np

    from ..records import IndexDoc
    from ..settings import Settings
    from ..store.staged import StagedDocs


class RetrieverQuery(str):
    """A query as one retriever should see it: the text (it *is* a ``str``, so a retriever
    that only reads text needs nothing else) and optionally the weighted index tokens to
    score instead of tokenising the text (a bridged or translated query)."""

    terms: dict[str, float] | None

    def __new__(cls, text: str, terms: dict[str, float] | None = None) -> RetrieverQuery:
        obj = super().__new__(cls, text)
        obj.terms = terms
        return obj

    @property
    def text(self) -> str:
        return str(self)

    @staticmethod
    def of(query: str) -> RetrieverQuery:
        return query if isinstance(query, RetrieverQuery) else RetrieverQuery(query)


class Ranking(Protocol):
    """One retriever's answer to one query."""

    order: list[int]  # document positions, best first (at most the depth asked for)

    def relevance(self, position: int) -> float:
        """How well document ``position`` covers the query, 0..1, comparable across queries."""
        ...

    # optional: ``relevances(positions) -> np.ndarray``, :meth:`relevance` of each of them in
    # one call (a page of hits); the searcher asks one at a time when a ranking has none


class Retriever(Protocol):
    name: str

    def __init__(self, settings: Settings, docs: Sequence[IndexDoc], llm: Any = None) -> None:
        """``docs``: the index documents by position, read on demand (``store/docstore.py``
        ``DocStore``: ``meta(key)`` returns what ``prepare`` recorded, ``positions_of`` maps
        entry ids to positions).  Open what querying needs; read no more than that."""
        ...

    @classmethod
    def prepare(cls, settings: Settings, docs: StagedDocs) -> Any:
        """Build what querying needs, at ``digest index`` time (e.g. an index on disk), and
        return what to record with the documents (JSON; ``None``: nothing), committed with
        them in one transaction so a reader never sees one without the other."""
        ...

    def warm_up(self) -> None:
        """Load lazy models now (interactive use, benchmarks)."""
        ...

    def rank(
        self,
        query: str,
        allowed: np.ndarray,
        depth: int,
        where: dict[str, Any] | None = None,
    ) -> Ranking:
        """Documents for ``query`` among the ``allowed`` positions (the filters; ``where``: the
        same filters as a Chroma clause, for a store that filters by itself).  A
        :class:`RetrieverQuery` with ``terms`` is scored by those weighted tokens."""
        ...


@dataclass(frozen=True)
class RetrieverSpec:
    target: str  # "module:Class"
    weight_en: float  # default fusion weight for English queries
    weight_ko: float  # ... and for Korean ones
    label: str  # for reports
    latin_only: bool = False  # understands only the Latin part of a Korean query: weight scaled by it
    judges: tuple[str, ...] = ("en",)  # query languages for which its relevance counts
    side: str = "en"  # the language of the text it searches: a query in the other is bridged
    always: bool = True  # run for every query (cheap; its relevance is used) or only when fused


# Default weights: chosen on the public development set by a grid search over the two free
# ratios (weighted RRF is scale-free), shared by both query languages because that held up
# better under 2-fold cross-validation than separate ones (benchmarks/fusion_weights.py,
# BENCHMARKS.md).  A retriever searching the other language's side is further scaled by the
# share of the query the bridge renders (fusion.py).
RETRIEVERS: dict[str, RetrieverSpec] = {
    "dense": RetrieverSpec(
        "pipeline.retrieval.dense:DenseRetriever",
        0.7,
        0.7,
        "dense (MiniLM over English)",
        latin_only=True,
        always=False,
    ),
    "bm25_en": RetrieverSpec(
        "pipeline.retrieval.lexical:EnglishBM25", 1.0, 1.0, "BM25 English", latin_only=True
    ),
    "bm25_ko": RetrieverSpec(
        "pipeline.retrieval.lexical:KoreanBM25",
        0.7,
        0.7,
        "BM25 Korean morphemes",
        judges=("en", "ko"),
        side="ko",
    ),
}


def retriever_names() -> tuple[str, ...]:
    return tuple(RETRIEVERS)


def default_weights(lang: str) -> dict[str, float]:
    """The default fusion weights for queries in ``lang`` ("en" or "ko")."""
    return {name: spec.weight_ko if lang == "ko" else spec.weight_en for name, spec in RETRIEVERS.items()}


def retriever_class(name: str) -> type[Retriever]:
    module, _, cls = RETRIEVERS[name].target.partition(":")
    return getattr(importlib.import_module(module), cls)  # type: ignore[no-any-return]
