"""Lexical retrieval: BM25 over English text and over Korean morphemes.

English: lower-cased words, stop words dropped, a light suffix stemmer.  Korean:
``kiwipiepy`` content morphemes (nouns, verb/adjective stems, roots, numerals, hanja)
plus the Latin words written inside the Korean text, tokenised as English, so
"MoE" or "GPT-4V" match across languages.  Kiwi is loaded only when a text has Hangul,
and a query's only when the corpus's known word forms cannot answer it
(:func:`tokenize_ko_query`, ``known_forms.py``): analysing the texts, the index counts the
analyses of each of their word forms.

``digest index`` analyses only the texts it has not seen (``lexical_tokens.py`` caches
every text's token ids) and rebuilds the BM25 matrices from the cached ids
(``lexical_index.py``); a search memory-maps them and reads the columns of its tokens.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import threading
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from typing import Any, cast

import numpy as np

from ..errors import InputError
from ..progress import Progress
from ..records import IndexDoc
from ..settings import Settings
from ..store.docstate import read_state
from ..store.jsonl import content_hash
from ..store.layout import OutDir
from ..store.staged import StagedDocs
from ..text.english import tokenize_en
from ..text.hangul import has_hangul
from . import kiwi_process
from .base import RetrieverQuery
from .known_forms import Analysis, Forms, KnownForms, decode, known_forms, text_forms, use_known_forms
from .lexical_index import FORMAT, LexicalIndex
from .lexical_tokens import Lexicon, text_key

log = logging.getLogger(__name__)


TOKENIZER_VERSION = "lex-v1"

# content morphemes: nouns, numerals, verb/adjective stems, roots, hanja (Latin and numbers
# are tokenised by the English tokenizer)
_KO_TAGS = ("NNG", "NNP", "NR", "VV", "VA", "XR", "SH")


_kiwi_lock = threading.Lock()

# Kiwi's options, chosen by measurement (BENCHMARKS.md, "Kiwi options"): they are part of
# the analyser's identity, so changing them re-analyses the corpus once.
KIWI_OPTIONS: dict[str, Any] = {"model_type": "none", "load_multi_dict": False}


@lru_cache(maxsize=1)
def get_kiwi() -> Any:
    """The Korean morphological analyser, loaded once per process (only for Hangul)."""
    with _kiwi_lock:
        from kiwipiepy import Kiwi

        return Kiwi(**KIWI_OPTIONS)


def kiwi_loading(settings: Settings) -> contextlib.AbstractContextManager[Any]:
    """Within this block, Kiwi loads, and texts are analysed, in a child process
    (``kiwi_process.py``), when ``index.kiwi_process`` is on and this process has not loaded
    Kiwi already."""
    if not settings.index.kiwi_process or _kiwi_loaded():
        return contextlib.nullcontext()
    return kiwi_process.kiwi_in_background(KIWI_OPTIONS)


def _kiwi_loaded() -> bool:
    return get_kiwi.cache_info().currsize > 0


def _content(token: Any) -> bool:
    return bool(token.tag.startswith(_KO_TAGS) and has_hangul(token.form))


def _ko_morphemes(tokens: Any) -> list[str]:
    return [t.form for t in tokens if _content(t)]


def tokenize_ko(text: str) -> list[str]:
    """Korean text -> content morphemes + its Latin words (English-tokenised)."""
    if not has_hangul(text):
        return tokenize_en(text)
    got = kiwi_process.ask("tokenize", [text])
    if got is not None:
        return list(got[0])
    return [*_ko_morphemes(get_kiwi().tokenize(text)), *tokenize_en(text)]


def tokenize_ko_query(text: str) -> list[str]:
    """:func:`tokenize_ko` of a query: from the known word forms (``known_forms.py``) when
    every Hangul-bearing form of it is known and has a majority analysis (Kiwi is not loaded
    then), else Kiwi's analysis; with no forms registered, :func:`tokenize_ko` itself.  The
    forms' morphemes are Kiwi's, as it analysed most of their occurrences in the indexed
    texts: Kiwi weighs the context, so in a query it can split a form otherwise (rarely: see
    ``known_forms.py``)."""
    reader = known_forms() if has_hangul(text) else None
    morphemes = reader.morphemes(text) if reader is not None else None
    if morphemes is None:
        return tokenize_ko(text)
    return [*morphemes, *tokenize_en(text)]


def _analyse_ko_many(texts: Sequence[str], forms: Forms | None) -> list[list[str]]:
    korean = [i for i, t in enumerate(texts) if has_hangul(t)]
    out: list[list[str]] = [[] for _ in texts]
    if korean:
        for i, tokens in zip(korean, get_kiwi().tokenize([texts[i] for i in korean]), strict=True):
            if forms is None:
                out[i] = _ko_morphemes(tokens)
                continue
            morphemes = [(t.start, t.len, t.form if _content(t) else None) for t in tokens]
            out[i] = [f for _, _, f in morphemes if f is not None]
            forms.update(text_forms(texts[i], morphemes))
    for i, t in enumerate(texts):
        out[i].extend(tokenize_en(t))
    return out


def tokenize_ko_many(texts: Sequence[str]) -> list[list[str]]:
    """:func:`tokenize_ko` of each text; Kiwi analyses them on all cores."""
    return _analyse_ko_many(texts, None)


def analyse_ko_many(texts: Sequence[str]) -> Analysis:
    """:func:`tokenize_ko_many`, and the texts' word forms with their morphemes, counted
    (added up by the lexicon for :func:`tokenize_ko_query`)."""
    got = kiwi_process.ask("analyse", list(texts))
    if got is not None:
        counted: Forms = Counter({(f, decode(t)): n for f, t, n in got["forms"]})
        return Analysis(got["tokens"], counted)
    forms: Forms = Counter()
    return Analysis(_analyse_ko_many(texts, forms), forms)


TOKENIZERS = {"en": tokenize_en, "ko": tokenize_ko}
QUERY_TOKENIZERS = {"en": tokenize_en, "ko": tokenize_ko_query}
TOKENIZE_MANY = {"en": lambda texts: [tokenize_en(t) for t in texts], "ko": analyse_ko_many}


def analyser_id(lang: str) -> str:
    """Names the tokenizer of ``lang`` and, for Korean, Kiwi's version, model and options:
    the cached tokens of a text are valid for this analyser only."""
    if lang != "ko":
        return f"{lang}:{TOKENIZER_VERSION}"
    versions = []
    for package in ("kiwipiepy", "kiwipiepy_model"):
        try:
            versions.append(f"{package}-{version(package)}")
        except PackageNotFoundError:  # pragma: no cover - installed with the project
            versions.append(f"{package}-?")
    options = ",".join(f"{k}={v}" for k, v in sorted(KIWI_OPTIONS.items()))
    return f"ko:{TOKENIZER_VERSION}:{'/'.join(versions)}:{options}"


# -- the retrievers ---------------------------------------------------------------------------


class LexicalRanking:
    def __init__(
        self,
        order: list[int],
        index: LexicalIndex,
        tokens: list[int | None],
        weights: list[float] | None = None,
    ) -> None:
        self.order = order
        self.index = index
        self.tokens = tokens  # the query's distinct tokens (None: unknown to the vocabulary)
        self.weights = weights  # per token (a bridged query); None: all 1

    def relevance(self, position: int) -> float:
        return float(self.relevances([position])[0])

    def relevances(self, positions: Sequence[int]) -> np.ndarray:
        """:meth:`relevance` of each position at once: per query token, one binary search of
        its column for all of them (the share of the query's idf mass each document holds)."""
        pos = np.asarray(positions, dtype=np.int64)
        weights = self.weights if self.weights is not None else [1.0] * len(self.tokens)
        have = np.zeros(len(pos), dtype=np.float64)
        total = 0.0
        for token, w in zip(self.tokens, weights, strict=True):
            mass = self.index.idf(token) * w
            total += mass
            column = self.index.column(token)
            if mass and len(column) and len(pos):
                i = np.minimum(np.searchsorted(column, pos), len(column) - 1)
                have += mass * (column[i] == pos)
        return have / total if total > 0 else np.zeros(len(pos))


class _BM25Retriever:
    """BM25 over one text field of the index documents, in ``OUT/bm25/<lang>-<key>``."""

    name = ""
    lang = ""
    field = ""

    def __init__(self, settings: Settings, docs: Sequence[IndexDoc], llm: Any = None) -> None:
        out = OutDir(settings.out_dir)
        meta = getattr(docs, "meta", None)
        info = meta(f"retriever:{self.name}") if meta is not None else None
        if not info:
            raise InputError(f"no {self.lang} lexical index in {out.bm25_dir}: run `digest index`")
        try:
            self.index = LexicalIndex.load(out.bm25_dir / info["dir"])
            self.lexicon = Lexicon(out.lexicon_path)
        except (OSError, ValueError) as exc:
            raise InputError(
                f"the {self.lang} lexical index is unreadable ({exc}): run `digest index`"
            ) from None
        if self.index.size != len(docs):
            raise InputError(
                f"the {self.lang} lexical index does not match the documents: run `digest index`"
            )

    @classmethod
    def prepare(cls, settings: Settings, docs: StagedDocs) -> dict[str, Any]:
        """Analyse the texts not seen before, (re)build the index when the texts changed, and
        return what the index documents record for this retriever (``docs.meta``).  ``docs``
        (``store/staged.py``): a document kept as stored has the key its text had in the
        index in use, and is not read."""
        out = OutDir(settings.out_dir)
        analyser = analyser_id(cls.lang)
        current = (read_state(out.index_db_path, docs=False)[1].get(f"retriever:{cls.name}") or {}).get("dir")
        keys = cls._known_keys(out, current, analyser, docs)
        texts: dict[int, str] = {}

        def texts_of(positions: list[int]) -> list[str]:
            unread = [p for p in positions if p not in texts]
            texts.update(zip(unread, (getattr(d, cls.field) for d in docs.get_many(unread)), strict=True))
            return [texts[p] for p in positions]

        missing = [i for i, k in enumerate(keys) if k is None]
        for i, text in zip(missing, texts_of(missing), strict=True):
            keys[i] = text_key(analyser, text)
        known = cast(list[str], keys)  # every key filled in
        lexicon = Lexicon(out.lexicon_path, create=True)
        try:

            def progress(total: int) -> Progress:
                return Progress(total, f"analyse {cls.lang}", settings.progress, unit="text")

            ids, analysed = lexicon.analyse_keyed(
                known, texts_of, analyser, TOKENIZE_MANY[cls.lang], progress
            )
            target = f"{cls.lang}-{content_hash(FORMAT, analyser, known, length=16)}"
            kept = {"analyser": analyser, "keys": known}
            if not LexicalIndex.exists(out.bm25_dir / target):
                log.debug("building the %s lexical index over %d documents", cls.lang, len(docs))
                LexicalIndex.build(out.bm25_dir / target, ids, lexicon.vocab_size, kept)
            elif LexicalIndex.read_keys(out.bm25_dir / target) is None:
                LexicalIndex.write_keys(out.bm25_dir / target, kept)
            lexicon.keep_only(f"{cls.lang}:", known, analyser)
        finally:
            lexicon.close()
        for old in out.bm25_dir.glob(f"{cls.lang}-*"):  # keep the one in use until the switch
            if old.is_dir() and old.name not in (target, current):
                shutil.rmtree(old, ignore_errors=True)
        log.info(
            "%s lexical index: %d of %d texts analysed, the others cached", cls.lang, analysed, len(docs)
        )
        return {"dir": target, "docs": len(docs)}

    @staticmethod
    def _known_keys(out: OutDir, current: str | None, analyser: str, docs: StagedDocs) -> list[str | None]:
        """The key of each kept document's text, from the index in use (``current``); None
        for the others."""
        keys: list[str | None] = [None] * len(docs)
        before = LexicalIndex.read_keys(out.bm25_dir / current) if current else None
        if not before or before.get("analyser") != analyser or not isinstance(before.get("keys"), list):
            return keys
        previous: list[str] = before["keys"]
        for i in range(len(docs)):
            stored = docs.kept(i)
            if stored is not None and stored.pos < len(previous):
                keys[i] = previous[stored.pos]
        return keys

    def warm_up(self) -> None:
        TOKENIZERS[self.lang]("준비")

    def query_tokens(self, query: str) -> tuple[list[int | None], list[int | None]]:
        """The query's token ids (repeats kept, for scoring) and its distinct ones (for
        coverage); ``None`` for a token the vocabulary does not know."""
        tokens = QUERY_TOKENIZERS[self.lang](query)
        ids = self.lexicon.ids(tokens)
        return [ids.get(t) for t in tokens], [ids.get(t) for t in dict.fromkeys(tokens)]

    def token_id(self, token: str) -> int | None:
        """The vocabulary id of an analysed token (None: no text holds it)."""
        return self.lexicon.ids([token]).get(token)

    def rank(
        self, query: str, allowed: np.ndarray, depth: int, where: dict[str, Any] | None = None
    ) -> LexicalRanking:
        q = RetrieverQuery.of(query)
        weights: list[float] | None = None
        if q.terms is not None:  # a bridged or translated query: weighted index tokens
            ids = self.lexicon.ids(list(q.terms))
            distinct = [ids.get(t) for t in q.terms]
            weights = list(q.terms.values())
            raw = np.zeros(self.index.size, dtype=np.float32)
            for tid, w in zip(distinct, weights, strict=True):
                if w > 0 and self.index.known(tid):
                    raw += np.float32(w) * self.index.scores([tid])
        else:
            tokens, distinct = self.query_tokens(q.text)
            raw = self.index.scores(tokens)
        scores = np.where(allowed, raw, 0.0)
        return LexicalRanking(top_positions(scores, depth), self.index, distinct, weights)


def top_positions(scores: np.ndarray, depth: int) -> list[int]:
    """Positions of the ``depth`` highest positive scores, best first, ties by position: what
    a stable sort of every score gives, in time linear in the documents (a full sort of
    90,000 scores took longer than the rest of a warm search)."""
    pos = np.flatnonzero(scores > 0)
    if len(pos) > depth > 0:
        vals = scores[pos]
        kth = np.partition(vals, len(vals) - depth)[len(vals) - depth]  # the depth-th largest
        pos = pos[vals >= kth]  # ties at the boundary kept, so the position order decides
    order = pos[np.lexsort((pos, -scores[pos]))]
    return [int(i) for i in order[: max(depth, 0)]]


class EnglishBM25(_BM25Retriever):
    """The English text (translations, titles, TL;DRs, keywords)."""

    name, lang, field = "bm25_en", "en", "english"


class KoreanBM25(_BM25Retriever):
    """The Korean source: content morphemes, plus its Latin words.  Opening it makes its
    lexicon's known word forms the ones Korean queries are analysed with."""

    name, lang, field = "bm25_ko", "ko", "korean"

    def __init__(self, settings: Settings, docs: Sequence[IndexDoc], llm: Any = None) -> None:
        super().__init__(settings, docs, llm)
        use_known_forms(KnownForms(self.lexicon, lambda: analyser_id("ko")))
