"""Hybrid search: dense vectors (Chroma) + BM25 over English + BM25 over Korean morphemes,
fused by weighted reciprocal rank.

The weights depend on the query's language: the embedding model is English-only, so
a Korean query leans on the Korean BM25 (and on the Latin terms it contains), an
English query on the dense and English BM25 retrievers.  Filters (date range, topic,
votes) apply to every retriever.  :class:`Searcher` keeps the models and indexes loaded
for interactive use, ``ask``, evaluation and benchmarks.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date as Date
from typing import Any

import numpy as np

from .errors import InputError
from .index import get_collection, load_docs, open_client
from .lexical import BM25Index, tokenize_en, tokenize_ko
from .records import Hit, IndexDoc
from .settings import Settings
from .store.layout import OutDir
from .text.hangul import hangul_ratio, has_hangul

log = logging.getLogger(__name__)

RETRIEVERS = ("dense", "bm25_en", "bm25_ko")


@dataclass
class Filters:
    since: Date | None = None
    until: Date | None = None
    topic: str | None = None
    min_votes: int | None = None

    def where(self) -> dict[str, Any] | None:
        """The same filter as a Chroma ``where`` clause."""
        clauses: list[dict[str, Any]] = []
        if self.since:
            clauses.append({"date_int": {"$gte": int(self.since.strftime("%Y%m%d"))}})
        if self.until:
            clauses.append({"date_int": {"$lte": int(self.until.strftime("%Y%m%d"))}})
        if self.topic:
            clauses.append({"topic_key": {"$eq": self.topic.strip().casefold()}})
        if self.min_votes is not None:
            clauses.append({"votes": {"$gte": int(self.min_votes)}})
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}

    def accepts(self, doc: IndexDoc) -> bool:
        if (self.since or self.until) and doc.date is None:
            return False
        if self.since and doc.date < self.since:  # type: ignore[operator]
            return False
        if self.until and doc.date > self.until:  # type: ignore[operator]
            return False
        if self.topic and (doc.topic or "").strip().casefold() != self.topic.strip().casefold():
            return False
        return not (self.min_votes is not None and (doc.votes is None or doc.votes < self.min_votes))

    @property
    def active(self) -> bool:
        return any(v is not None for v in (self.since, self.until, self.topic, self.min_votes))


def _as_date(value: Date | str | None) -> Date | None:
    if value is None or isinstance(value, Date):
        return value
    try:
        return Date.fromisoformat(str(value))
    except ValueError:
        raise InputError(f"not a date (YYYY-MM-DD): {value!r}") from None


def query_language(text: str) -> str:
    return "ko" if has_hangul(text) else "en"


def fusion_weights(settings: Settings, query: str) -> dict[str, float]:
    """Retriever weights for ``query``.  The embedding model and the English BM25 only
    understand the Latin part of a Korean query, so their weights shrink with its share."""
    if query_language(query) == "en":
        weights = dict(settings.search.weights_en)
    else:
        weights = dict(settings.search.weights_ko)
        latin = 1.0 - hangul_ratio(query)
        weights["dense"] = weights.get("dense", 0.0) * latin
        weights["bm25_en"] = weights.get("bm25_en", 0.0) * latin
    return {name: float(weights.get(name, 0.0)) for name in RETRIEVERS}


@dataclass
class Retrieved:
    """Per-retriever results for one query: ranked document positions and raw scores."""

    ranked: dict[str, list[int]]
    dense_sim: dict[int, float]
    tokens_en: list[str]
    tokens_ko: list[str]


class Searcher:
    """Loads the index documents, the BM25 indexes and the embedding model once."""

    def __init__(self, settings: Settings, *, llm: Any = None, dense: bool = True) -> None:
        from .embeddings import embedding_function

        self.settings = settings
        self.docs: list[IndexDoc] = load_docs(settings)
        if not self.docs:
            raise InputError(f"the index in {settings.out_dir} is empty: run `digest index`")
        self.position = {d.entry_id: i for i, d in enumerate(self.docs)}
        cache = OutDir(settings.out_dir).bm25_dir
        self.bm25_en = BM25Index.load_or_build(cache, [d.english for d in self.docs], "en")
        self.bm25_ko = BM25Index.load_or_build(cache, [d.korean for d in self.docs], "ko")
        self.collection = None
        self.ef = None
        if dense:
            self.ef = embedding_function(settings, llm)
            self.collection = get_collection(settings, open_client(settings), self.ef, create=False)
            self.n_chunks = self.collection.count()

    def warm_up(self) -> None:
        """Load the lazy models now (embedding model, Korean analyser)."""
        if self.ef is not None:
            self.ef(["warm up"])
        tokenize_ko("준비")

    # -------------------------------------------------------------------------------

    def retrieve(self, query: str, filters: Filters, depth: int, *, dense: bool = True) -> Retrieved:
        if filters.active:
            allowed = np.array([filters.accepts(d) for d in self.docs], dtype=bool)
        else:
            allowed = np.ones(len(self.docs), dtype=bool)
        tokens_en = tokenize_en(query)
        tokens_ko = tokenize_ko(query)
        ranked: dict[str, list[int]] = {}
        lexical = (("bm25_en", self.bm25_en, tokens_en), ("bm25_ko", self.bm25_ko, tokens_ko))
        for name, index, toks in lexical:
            scores = index.scores(toks)
            scores = np.where(allowed, scores, 0.0)
            order = np.argsort(-scores, kind="stable")
            ranked[name] = [int(i) for i in order[:depth] if scores[i] > 0]
        dense_sim: dict[int, float] = {}
        if dense and self.collection is not None and self.n_chunks and allowed.any():
            vector = self.ef.embed_query([query])[0]  # type: ignore[union-attr]
            res = self.collection.query(
                query_embeddings=[vector],
                n_results=min(self.n_chunks, max(2 * depth, 60)),
                where=filters.where(),
                include=["metadatas", "distances"],
            )
            order: list[int] = []
            for md, dist in zip(res["metadatas"][0], res["distances"][0], strict=False):
                pos = self.position.get(str((md or {}).get("entry_id")))
                if pos is None or not allowed[pos] or pos in dense_sim:
                    continue
                dense_sim[pos] = 1.0 - float(dist)
                order.append(pos)
            ranked["dense"] = order[:depth]
        return Retrieved(ranked, dense_sim, tokens_en, tokens_ko)

    def relevance(self, r: Retrieved, pos: int, lang: str) -> float:
        """How well document ``pos`` covers the query: 0..1, comparable across queries.
        The larger of the idf-weighted term coverage (English or Korean) and, for English
        queries, the dense cosine similarity."""
        cov_ko = self.bm25_ko.coverage(r.tokens_ko, pos)
        cov_en = self.bm25_en.coverage(r.tokens_en, pos)
        best = max(cov_ko, cov_en) if lang == "en" else cov_ko
        if lang == "en":
            best = max(best, r.dense_sim.get(pos, 0.0))
        return float(best)

    def search(
        self,
        query: str,
        *,
        k: int | None = None,
        since: Date | str | None = None,
        until: Date | str | None = None,
        topic: str | None = None,
        min_votes: int | None = None,
        retrievers: tuple[str, ...] = RETRIEVERS,
    ) -> list[Hit]:
        """Top ``k`` entries for ``query``, best first (``Hit.score`` = fused RRF score)."""
        query = (query or "").strip()
        if not query:
            raise InputError("empty query")
        k = k or self.settings.search.k
        if k < 1:
            raise InputError("k must be at least 1")
        filters = Filters(_as_date(since), _as_date(until), topic, min_votes)
        lang = query_language(query)
        depth = max(k, 50)
        weights = fusion_weights(self.settings, query)
        use_dense = "dense" in retrievers and (weights["dense"] > 0 or len(retrievers) == 1)
        r = self.retrieve(query, filters, depth, dense=use_dense)
        rrf_k = self.settings.search.rrf_k
        fused: dict[int, float] = {}
        ranks: dict[int, dict[str, int]] = {}
        for name in retrievers:
            weight = weights[name] if len(retrievers) > 1 else 1.0
            if weight <= 0:
                continue
            for rank, pos in enumerate(r.ranked.get(name, []), 1):
                fused[pos] = fused.get(pos, 0.0) + weight / (rrf_k + rank)
                ranks.setdefault(pos, {})[name] = rank
        best = sorted(fused, key=lambda p: (-fused[p], p))[:k]
        hits: list[Hit] = []
        for pos in best:
            doc = self.docs[pos]
            hits.append(
                Hit(
                    entry_id=doc.entry_id,
                    arxiv_id=doc.arxiv_id,
                    title=doc.title,
                    date=doc.date,
                    votes=doc.votes,
                    topic=doc.topic,
                    score=round(fused[pos], 6),
                    snippet=_snippet(doc, r.tokens_en),
                    ranks=ranks[pos],
                    relevance=round(self.relevance(r, pos, lang), 4),
                )
            )
        return hits

    def doc(self, entry_id: str) -> IndexDoc:
        return self.docs[self.position[entry_id]]


def _snippet(doc: IndexDoc, query_tokens: list[str], limit: int = 240) -> str:
    """The English sentence sharing most words with the query (else the first one); the
    Korean text when the entry is untranslated."""
    if not doc.translated.strip():
        body = " ".join(doc.korean.split("\n")[1:]).strip() or doc.title
        return body if len(body) <= limit else body[: limit - 1].rsplit(" ", 1)[0] + "…"
    wanted = set(query_tokens)
    lines = [line for line in doc.translated.split("\n") if line.strip()]
    best = max(lines, key=lambda line: (len(wanted & set(tokenize_en(line))), -lines.index(line)))
    return best if len(best) <= limit else best[: limit - 1].rsplit(" ", 1)[0] + "…"


def search(
    settings: Settings,
    query: str,
    *,
    k: int | None = None,
    since: Date | str | None = None,
    until: Date | str | None = None,
    topic: str | None = None,
    min_votes: int | None = None,
) -> list[Hit]:
    """One-shot search (loads everything; use :class:`Searcher` for many queries)."""
    return Searcher(settings).search(query, k=k, since=since, until=until, topic=topic, min_votes=min_votes)
