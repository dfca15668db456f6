"""Hybrid search: every registered retriever (``base.py``) ranks the index documents, and their
rankings are fused by weighted reciprocal rank (``fusion.py``).  Filters (date range, topic,
votes) apply to every retriever.  :class:`Searcher` keeps the models and indexes loaded for
interactive use, ``ask``, evaluation and benchmarks.  Opening one reads no document: the
documents stay in their store (``store/docstore.py``) and a search reads the ones it returns.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date as Date
from functools import lru_cache
from typing import Any

import numpy as np

from ..errors import ConfigError, InputError
from ..records import Hit, IndexDoc
from ..settings import Settings
from ..store.docstore import DocStore, Positions
from ..store.layout import OutDir
from ..text.english import EN_STOPWORDS, stem
from ..text.english import THOUSANDS as _THOUSANDS
from ..text.urls import arxiv_abs_url
from .base import RETRIEVERS, Ranking, Retriever, RetrieverQuery, retriever_class, retriever_names
from .bridge import Bridge, QueryPlan, load_bridge, plan_query
from .fusion import fuse, fusion_weights, query_language
from .lexical import tokenize_en
from .query_translation import translate_query
from .support import Support, SupportChecker

log = logging.getLogger(__name__)


@dataclass
class Filters:
    since: Date | None = None
    until: Date | None = None
    topic: str | None = None
    min_votes: int | None = None

    def __post_init__(self) -> None:
        if self.since and self.until and self.since > self.until:
            raise ConfigError(f"--since {self.since} is after --until {self.until}: the date range is empty")

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

    def columns(self) -> dict[str, Any]:
        """The same filter on the document store's columns (``DocStore.mask``)."""
        return {
            "since": int(self.since.strftime("%Y%m%d")) if self.since else None,
            "until": int(self.until.strftime("%Y%m%d")) if self.until else None,
            "topic_key": self.topic.strip().casefold() if self.topic else None,
            "min_votes": int(self.min_votes) if self.min_votes is not None else None,
        }

    @property
    def active(self) -> bool:
        return any(v is not None for v in (self.since, self.until, self.topic, self.min_votes))


def as_date(value: Date | str | None) -> Date | None:
    if value is None or isinstance(value, Date):
        return value
    try:
        return Date.fromisoformat(str(value))
    except ValueError:
        raise InputError(f"not a date (YYYY-MM-DD): {value!r}") from None


class Searcher:
    """Loads the index documents and the retrievers (their indexes and models) once.
    ``retrievers``: which to load (default all; the cheap ones are always loaded, their
    relevance judges every query)."""

    def __init__(
        self, settings: Settings, *, llm: Any = None, retrievers: Iterable[str] | None = None
    ) -> None:
        self.settings = settings
        # the index documents, read on demand: a search reads the rows it returns
        self.docs: DocStore = OutDir(settings.out_dir).open_index_docs()
        if not len(self.docs):
            raise InputError(f"the index in {settings.out_dir} is empty: run `digest index`")
        self.position = Positions(self.docs)  # entry id -> position, looked up on demand
        wanted = set(retriever_names() if retrievers is None else retrievers)
        self.retrievers: dict[str, Retriever] = {
            name: retriever_class(name)(settings, self.docs, llm)
            for name, spec in RETRIEVERS.items()
            if spec.always or name in wanted
        }
        self.bridge: Bridge | None = load_bridge(settings)

    def warm_up(self) -> None:
        """Load the lazy models now (embedding model, Korean analyser)."""
        for r in self.retrievers.values():
            r.warm_up()

    def plan(self, query: str, translation: Sequence[str] | str | None = None) -> QueryPlan:
        """What each side of the index searches with (the query, or its bridged rendering)."""
        return plan_query(self.bridge, query, query_language(query), translation)

    def rankings(
        self, query: str | QueryPlan, filters: Filters, depth: int, use: set[str]
    ) -> dict[str, Ranking]:
        """Each loaded retriever's ranking: the cheap ones always, the others when in ``use``."""
        allowed = self.docs.mask(**filters.columns())
        plan = (
            query
            if isinstance(query, QueryPlan)
            else QueryPlan({"en": RetrieverQuery(query), "ko": RetrieverQuery(query)})
        )
        return {
            name: r.rank(plan.sides[RETRIEVERS[name].side], allowed, depth, filters.where())
            for name, r in self.retrievers.items()
            if RETRIEVERS[name].always or name in use
        }

    @staticmethod
    def relevance(rankings: dict[str, Ranking], pos: int, lang: str) -> float:
        """How well document ``pos`` covers the query: 0..1, comparable across queries: the
        best judgement of the retrievers that judge queries in ``lang`` (the idf-weighted term
        coverage, English or Korean; for English queries also the dense cosine similarity)."""
        return float(Searcher.relevances(rankings, [pos], lang)[0])

    @staticmethod
    def relevances(rankings: dict[str, Ranking], positions: Sequence[int], lang: str) -> list[float]:
        """:meth:`relevance` of each of ``positions``, each retriever asked once."""
        judged = [
            _relevances(r, positions) for name, r in rankings.items() if lang in RETRIEVERS[name].judges
        ]
        if not judged:
            return [0.0] * len(positions)
        return [float(v) for v in np.max(np.vstack(judged), axis=0)]

    def search(
        self,
        query: str,
        *,
        k: int | None = None,
        since: Date | str | None = None,
        until: Date | str | None = None,
        topic: str | None = None,
        min_votes: int | None = None,
        retrievers: tuple[str, ...] | None = None,
        translation: Sequence[str] | str | None = None,
    ) -> list[Hit]:
        """Top ``k`` entries for ``query``, best first (``Hit.score`` = fused RRF score).
        ``translation``: the query in the other language (an LLM's), searched with it."""
        query = (query or "").strip()
        if not query:
            raise InputError("empty query")
        k = k or self.settings.search.k
        if k < 1:
            raise InputError("k must be at least 1")
        names = retrievers or retriever_names()
        filters = Filters(as_date(since), as_date(until), topic, min_votes)
        lang = query_language(query)
        depth = max(k, 50)
        plan = self.plan(query, translation)
        weights = fusion_weights(self.settings, query, plan.other_share)
        use = {n for n in names if weights[n] > 0 or len(names) == 1}
        rankings = self.rankings(plan, filters, depth, use)
        fused, ranks = fuse(rankings, weights, names, self.settings.search.rrf_k)
        best = sorted(fused, key=lambda p: (-fused[p], p))[:k]
        tokens = tokenize_en(query)
        relevance = self.relevances(rankings, best, lang)
        hits: list[Hit] = []
        for pos, doc, rel in zip(best, self.docs.get_many(best), relevance, strict=True):
            hits.append(
                Hit(
                    entry_id=doc.entry_id,
                    arxiv_id=doc.arxiv_id,
                    title=doc.title,
                    date=doc.date,
                    votes=doc.votes,
                    topic=doc.topic,
                    score=round(fused[pos], 6),
                    snippet=_snippet(doc, tokens),
                    ranks=ranks[pos],
                    relevance=round(rel, 4),
                    url=arxiv_abs_url(doc.arxiv_id),
                    tldr=doc.tldr,
                )
            )
        return hits

    def support(
        self, question: str, entry_ids: list[str], *, min_coverage: float, combination_gain: float
    ) -> Support:
        """Does an entry among ``entry_ids`` hold what ``question`` asks (``support.py``)?"""
        return SupportChecker(self).check(
            question, entry_ids, min_coverage=min_coverage, combination_gain=combination_gain
        )

    def doc(self, entry_id: str) -> IndexDoc:
        """The index document of ``entry_id`` (KeyError when the index has none)."""
        return self.docs.by_entry_id(entry_id)

    def close(self) -> None:
        """Release the document store (its read snapshot)."""
        self.docs.close()


@lru_cache(maxsize=64)
def _words_starting_with(keys: frozenset[str]):
    """``line -> its words (as tokenize_en splits it) that start with one of keys``."""
    if not keys:
        return lambda line: ()
    alternatives = "|".join(re.escape(k) for k in sorted(keys, key=len, reverse=True))
    pattern = re.compile(rf"(?<![a-z0-9])(?:{alternatives})[a-z0-9]*")
    return lambda line: pattern.findall(_THOUSANDS.sub("", line.lower()))


def _relevances(ranking: Ranking, positions: Sequence[int]) -> np.ndarray:
    many = getattr(ranking, "relevances", None)  # optional: a ranking may judge one at a time
    if many is not None:
        return np.asarray(many(positions), dtype=np.float64)
    return np.asarray([ranking.relevance(p) for p in positions], dtype=np.float64)


def _snippet(doc: IndexDoc, query_tokens: list[str], limit: int = 240) -> str:
    """The English sentence sharing most words with the query (else the first one); the
    Korean text when the entry is untranslated."""
    if not doc.translated.strip():
        body = " ".join(doc.korean.split("\n")[1:]).strip() or doc.title
        return body if len(body) <= limit else body[: limit - 1].rsplit(" ", 1)[0] + "…"
    wanted = frozenset(query_tokens)
    lines = [line for line in doc.translated.split("\n") if line.strip()]
    # a word can be a query token only if it starts with the token's stem as written (the
    # stemmer keeps a prefix of the word, or turns "-ies" into "-y"): only those are stemmed
    words = _words_starting_with(frozenset(t[:-1] if t.endswith("y") else t for t in wanted))
    shared = []
    for i, line in enumerate(lines):
        found = words(line) if wanted else ()
        if found:
            shared.append((len({stem(w) for w in found if w not in EN_STOPWORDS} & wanted), -i, line))
    top = max(shared, default=(0, 0, ""))
    best = top[2] if top[0] else lines[0]
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
    translate: bool | None = None,
    llm: Any = None,
) -> list[Hit]:
    """One-shot search (opens the index; use :class:`Searcher` for many queries).
    ``translate`` (default: ``search.translate``): the LLM translates the query too (cached)
    and both renderings are searched; without an LLM answer, the offline bridge alone."""
    Filters(as_date(since), as_date(until))  # a bad range is an error before anything loads
    searcher = Searcher(settings)
    try:
        translation: list[str] | None = None
        if settings.search.translate if translate is None else translate:
            if llm is None:
                from ..llm.client import make_llm  # the openai SDK is slow to import: only when asked

                llm = make_llm(settings)
            translation = translate_query(settings, query, llm, searcher.bridge).texts or None
        return searcher.search(
            query, k=k, since=since, until=until, topic=topic, min_votes=min_votes, translation=translation
        )
    finally:
        searcher.close()
