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
import re
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
from ..text.hangul import has_hangul

log = logging.getLogger(__name__)


def _bm25s() -> Any:
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)  # bm25s sets DEBUG on import
    return bm25s


TOKENIZER_VERSION = "lex-v1"

_EN_WORD = re.compile(r"[a-z0-9]+")
_EN_STOP = frozenset(
    """
a an and are as at be been being but by can could did do does doing done for from had has have
having how i if in into is it its itself may might more most no nor not of on or our over per same
so such than that the their them then there these they this those through to too under up us very
via was we were what when where which while who whom whose why will with within would you your also
each other both between about after before during only own further here again any all few some s t
using use used based new
""".split()  # noqa: SIM905
)
# content morphemes: nouns, numerals, verb/adjective stems, roots, hanja (Latin and numbers
# are tokenised by the English tokenizer)
_KO_TAGS = ("NNG", "NNP", "NR", "VV", "VA", "XR", "SH")


def _stem(word: str) -> str:
    """A light, deterministic English suffix stemmer (plural, -ing, -ed, -ly)."""
    if len(word) <= 3 or word.isdigit():
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "xes", "ches", "shes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    if word.endswith("ing") and len(word) > 5:
        word = word[:-3]
    elif word.endswith("ed") and len(word) > 4 or word.endswith("ly") and len(word) > 5:
        word = word[:-2]
    return word


def tokenize_en(text: str) -> list[str]:
    """English (and the Latin parts of Korean) text -> stemmed content words."""
    text = (text or "").lower()
    text = re.sub(r"(?<=\d),(?=\d{3})", "", text)  # 12,000 -> 12000
    return [_stem(w) for w in _EN_WORD.findall(text) if w not in _EN_STOP]


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
