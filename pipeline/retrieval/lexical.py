"""Lexical retrieval: BM25 (``bm25s``) over English text and over Korean morphemes.

English: lower-cased words, stop words dropped, a light suffix stemmer.  Korean:
``kiwipiepy`` content morphemes (nouns, verb/adjective stems, roots, numerals, hanja)
plus the Latin words written inside the Korean text, tokenised as English, so
"MoE" or "GPT-4V" match across languages.  Indexes are cached on disk under a hash of
their input, so a query never rebuilds them.
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ..records import IndexDoc
from ..settings import Settings
from ..store.jsonl import content_hash
from ..store.layout import OutDir
from ..text.english import tokenize_en
from ..text.hangul import has_hangul

log = logging.getLogger(__name__)


def _bm25s() -> Any:
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)  # bm25s sets DEBUG on import
    return bm25s


TOKENIZER_VERSION = "lex-v1"

# content morphemes: nouns, numerals, verb/adjective stems, roots, hanja (Latin and numbers
# are tokenised by the English tokenizer)
_KO_TAGS = ("NNG", "NNP", "NR", "VV", "VA", "XR", "SH")


_kiwi_lock = threading.Lock()


@lru_cache(maxsize=1)
def get_kiwi() -> Any:
    """The Korean morphological analyser, loaded once per process."""
    with _kiwi_lock:
        from kiwipiepy import Kiwi

        return Kiwi()


def tokenize_ko(text: str) -> list[str]:
    """Korean text -> content morphemes + its Latin words (English-tokenised)."""
    tokens: list[str] = []
    if has_hangul(text):
        for tok in get_kiwi().tokenize(text):
            if tok.tag.startswith(_KO_TAGS) and has_hangul(tok.form):
                tokens.append(tok.form)
    tokens.extend(tokenize_en(text))
    return tokens


def tokenize_ko_many(texts: Sequence[str]) -> list[list[str]]:
    return [tokenize_ko(t) for t in texts]


TOKENIZERS = {"en": tokenize_en, "ko": tokenize_ko}


class BM25Index:
    """A BM25 index over a fixed list of documents (positions = document order), with the
    token sets of each document for term-coverage checks."""

    def __init__(self, retriever: Any, corpus: list[list[str]], lang: str) -> None:
        self._bm25 = retriever
        self.lang = lang
        self.size = len(corpus)
        self.doc_tokens = [frozenset(toks) for toks in corpus]
        self.df: dict[str, int] = {}
        for toks in self.doc_tokens:
            for t in toks:
                self.df[t] = self.df.get(t, 0) + 1
        self._vocab: dict[str, int] = getattr(retriever, "vocab_dict", {}) or {}

    @classmethod
    def load_or_build(
        cls, cache_dir: Path, texts: Sequence[str], lang: str, name: str | None = None
    ) -> BM25Index:
        """Reuse ``cache_dir/<name>-<hash of texts>`` when present, else build and save it
        (older indexes of the same name are removed)."""
        bm25s = _bm25s()
        name = name or lang
        key = content_hash(TOKENIZER_VERSION, lang, list(texts), length=16)
        target = Path(cache_dir) / f"{name}-{key}"
        if (target / "done.json").is_file():
            try:
                retriever = bm25s.BM25.load(str(target), show_progress=False)
                corpus = json.loads((target / "tokens.json").read_text(encoding="utf-8"))
                if len(corpus) == len(texts):
                    return cls(retriever, corpus, lang)
            except Exception as exc:  # a damaged cache is rebuilt
                log.warning("BM25 cache %s unreadable (%s): rebuilding", target, exc)
        log.debug("building the %s BM25 index over %d documents", lang, len(texts))
        tokenizer = TOKENIZERS[lang]
        corpus = [tokenizer(t) or ["\u2205"] for t in texts]
        retriever = bm25s.BM25()
        retriever.index(corpus, show_progress=False)
        tmp = target.with_name(target.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True, exist_ok=True)
        retriever.save(str(tmp), show_progress=False)
        (tmp / "tokens.json").write_text(json.dumps(corpus, ensure_ascii=False), encoding="utf-8")
        (tmp / "done.json").write_text(json.dumps({"docs": len(texts), "lang": lang}))
        shutil.rmtree(target, ignore_errors=True)
        tmp.rename(target)
        for old in Path(cache_dir).glob(f"{name}-*"):  # keep only the current index
            if old != target and old.is_dir():
                shutil.rmtree(old, ignore_errors=True)
        return cls(retriever, corpus, lang)

    def scores(self, tokens: Sequence[str]) -> np.ndarray:
        """BM25 score of every document for the query tokens (unknown tokens score 0)."""
        known = [t for t in tokens if t in self.df]
        if not known:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(known), dtype=np.float32)

    def idf(self, token: str) -> float:
        """Robertson/Lucene idf; a token no document holds gets the highest idf."""
        df = self.df.get(token, 0)
        return float(np.log((self.size - df + 0.5) / (df + 0.5) + 1.0))

    def coverage(self, tokens: Sequence[str], position: int) -> float:
        """Share of the query's idf mass that document ``position`` contains (0..1)."""
        unique = set(tokens)
        if not unique:
            return 0.0
        total = sum(self.idf(t) for t in unique)
        have = sum(self.idf(t) for t in unique if t in self.doc_tokens[position])
        return have / total if total > 0 else 0.0


# -- the retrievers ---------------------------------------------------------------------------


class LexicalRanking:
    def __init__(self, order: list[int], index: BM25Index, tokens: list[str]) -> None:
        self.order = order
        self.index = index
        self.tokens = tokens

    def relevance(self, position: int) -> float:
        return self.index.coverage(self.tokens, position)


class _BM25Retriever:
    """BM25 over one text field of the index documents, cached in ``OUT/bm25``."""

    name = ""
    lang = ""
    field = ""

    def __init__(self, settings: Settings, docs: list[IndexDoc], llm: Any = None) -> None:
        self.index = self._load(settings, docs)

    @classmethod
    def _load(cls, settings: Settings, docs: list[IndexDoc]) -> BM25Index:
        texts = [getattr(d, cls.field) for d in docs]
        return BM25Index.load_or_build(OutDir(settings.out_dir).bm25_dir, texts, cls.lang)

    @classmethod
    def prepare(cls, settings: Settings, docs: list[IndexDoc]) -> None:
        """Build (or find) the index now, so the first search does not pay for it."""
        if docs:
            cls._load(settings, docs)

    def warm_up(self) -> None:
        TOKENIZERS[self.lang]("준비")

    def rank(
        self, query: str, allowed: np.ndarray, depth: int, where: dict[str, Any] | None = None
    ) -> LexicalRanking:
        tokens = TOKENIZERS[self.lang](query)
        scores = np.where(allowed, self.index.scores(tokens), 0.0)
        order = np.argsort(-scores, kind="stable")
        return LexicalRanking([int(i) for i in order[:depth] if scores[i] > 0], self.index, tokens)


class EnglishBM25(_BM25Retriever):
    """The English text (translations, titles, TL;DRs, keywords)."""

    name, lang, field = "bm25_en", "en", "english"


class KoreanBM25(_BM25Retriever):
    """The Korean source: content morphemes, plus its Latin words."""

    name, lang, field = "bm25_ko", "ko", "korean"
