"""Does the store hold an answer?  A retrieval-side check on what distinguishes the question,
run before any LLM is asked, so a question about a paper that is not there is refused even
when its topical words match other papers.

For each retrieved entry, the share of the question's content words (idf-weighted; generic
question words such as "which paper" left out) that the entry holds -- on either side: a
Korean word counts when the Korean text has it or the English text has one of its
translations (the query bridge).  The question is refused when

- it names something (a Latin-script name: ``DeepSeek-V3``, ``Gemini``) the store holds
  nowhere;
- no entry covering ``ask.min_relevance`` of it also states its numbers (``405B``, ``2-bit``);
- the best entry misses a large part of it (``ask.combination_gain``) that another entry
  holds, and the question names nothing of the best entry: it combines a task and a method
  that no single entry combines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..records import IndexDoc
from ..text.generated import stated_values
from ..text.hangul import has_hangul
from ..text.numbers import is_supported
from .claims import doc_values
from .lexical import tokenize_en, tokenize_ko_query

if TYPE_CHECKING:
    from .searcher import Searcher

_GENERIC = frozenset(
    tokenize_en(
        "which paper papers work works study studies propose proposes proposed introduce introduces "
        "introduced method approach model models use uses using how many much what does do did is are "
        "was were the a that this reach reaches reported report reports describe describes present "
        "presents"
    )
) | frozenset("논문 연구 제안 방법 모델 무엇 어떤 소개 하 있 되 이 것 수 몇 개 얼마 사용 적용 나오".split())  # noqa: SIM905
_LATIN = re.compile(r"(?<![\w-])[A-Za-z][A-Za-z0-9]*(?:[-.'][A-Za-z0-9]+)*")
ANCHOR_DF = 3  # a name at most this many entries hold points at one entry


@dataclass
class Support:
    """The retrieval-side verdict on a question (``ask --json``: ``support``)."""

    entry_id: str | None = None  # the retrieved entry that covers the question best
    coverage: float = 0.0  # the share of the question's content it holds
    missing_names: list[str] = field(default_factory=list)  # named, held nowhere in the store
    missing_numbers: list[str] = field(default_factory=list)  # stated by no covering entry
    combined_with: str | None = None  # another entry holds what the best one misses
    reason: str | None = None  # why the question is refused; None: supported

    @property
    def ok(self) -> bool:
        return self.reason is None


def question_names(question: str) -> list[str]:
    """Latin-script names in a question: mixed case or letters with digits (``LoRA``,
    ``GPT-4o``), a capitalised word inside an English sentence (``Gemini``), every Latin word
    of a Korean question."""
    korean = has_hangul(question)
    names: list[str] = []
    for m in _LATIN.finditer(question or ""):
        word = m.group(0)
        before = question[: m.start()].rstrip()
        starts_sentence = not before or before.endswith((".", "?", "!", ":", '"'))
        if (
            any(c.isupper() for c in word[1:])
            or any(c.isdigit() for c in word)
            or (korean and len(word) > 1)
            or (word[0].isupper() and not starts_sentence and len(word) > 2)
        ) and word not in names:
            names.append(word)
    return names


class _Side:
    """One lexical index, asked by token text (``lexical.py``'s vocabulary ids underneath)."""

    def __init__(self, retriever: Any) -> None:
        self.retriever = retriever
        self.index = retriever.index
        self._ids: dict[str, int | None] = {}

    def id(self, token: str) -> int | None:
        if token not in self._ids:
            self._ids[token] = self.retriever.token_id(token)
        return self._ids[token]

    def df(self, token: str) -> int:
        return int(self.index.df(self.id(token)))

    def idf(self, token: str) -> float:
        return float(self.index.idf(self.id(token)))

    def has(self, token: str, pos: int) -> bool:
        return bool(self.index.contains(self.id(token), pos))


class SupportChecker:
    def __init__(self, searcher: Searcher) -> None:
        self.searcher = searcher
        self.en = _Side(searcher.retrievers["bm25_en"])
        self.ko = _Side(searcher.retrievers["bm25_ko"])

    def _held(self, token: str) -> bool:
        return self.en.df(token) > 0 or self.ko.df(token) > 0

    def _found(self, token: str, pos: int, korean: bool) -> bool:
        if self.ko.has(token, pos) or self.en.has(token, pos):
            return True
        bridge = self.searcher.bridge
        if korean and has_hangul(token) and bridge is not None:
            return any(self.en.has(e, pos) for e in bridge.english_of(token))
        return False

    def check(
        self, question: str, entry_ids: list[str], *, min_coverage: float, combination_gain: float
    ) -> Support:
        korean = has_hangul(question)
        index = self.ko if korean else self.en
        tokens = [t for t in dict.fromkeys(tokenize_ko_query(question) if korean else tokenize_en(question))]
        words = [t for t in tokens if t not in _GENERIC]
        idf = {t: index.idf(t) for t in words}
        total = sum(idf.values())
        support = Support()
        support.missing_names = [
            n for n in question_names(question) if not all(self._held(t) for t in tokenize_en(n))
        ]
        positions = [self.searcher.position[e] for e in entry_ids if e in self.searcher.position]
        if not positions or total <= 0:
            support.reason = "nothing retrieved" if not positions else "no content words"
            return support
        covered = {p: {t for t in words if self._found(t, p, korean)} for p in positions}
        cov = {p: sum(idf[t] for t in covered[p]) / total for p in positions}
        best = max(positions, key=lambda p: (cov[p], -positions.index(p)))
        support.entry_id = self.searcher.docs[best].entry_id
        support.coverage = round(cov[best], 4)
        if support.missing_names:
            support.reason = "names not in the store: " + ", ".join(support.missing_names)
            return support
        numbers = stated_values(question)
        if numbers:
            holding = [
                p for p in positions if cov[p] >= min_coverage and _states(self.searcher.docs[p], numbers)
            ]
            if not holding:
                values = doc_values(self.searcher.docs[best])
                support.missing_numbers = [
                    w for w, acc in numbers if not any(is_supported(v, values) for v in acc)
                ]
                support.reason = "numbers not stated by the entries: " + ", ".join(support.missing_numbers)
                return support
            best = max(holding, key=lambda p: cov[p])
        if cov[best] < min_coverage:
            support.reason = f"the best entry covers {cov[best]:.2f} of the question"
            return support
        anchored = any(
            self.ko.has(t, best) or self.en.has(t, best)
            for n in question_names(question)
            for t in tokenize_en(n)
            if t and max(self.en.df(t), self.ko.df(t)) <= ANCHOR_DF
        )
        if not anchored and cov[best] < 1.0 - combination_gain:
            for p in positions:
                gain = sum(idf[t] for t in covered[p] - covered[best]) / total
                if p != best and gain >= combination_gain:
                    support.combined_with = self.searcher.docs[p].entry_id
                    support.reason = (
                        f"no single entry combines it: {support.entry_id} and {support.combined_with} "
                        "each hold a part"
                    )
                    return support
        return support


def _states(doc: IndexDoc, numbers: list[tuple[str, set[float]]]) -> bool:
    values = doc_values(doc)
    return all(any(is_supported(v, values) for v in acc) for _, acc in numbers)
