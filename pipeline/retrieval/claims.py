"""Every claim of an answer checked against the sources it cites, sentence by sentence, as the
model writes (so only checked text is streamed).

A sentence is a claim.  Its citations (any form ``text/generated.py`` reads) are checked one
by one: a cited source *supports* the sentence when it contains at least half of the
sentence's content words (stems; a Korean sentence is also matched through the query
bridge's word associations) -- generic answer words ("paper", "propose") do not count.  An
unsupported or unknown citation is dropped from the sentence and reported.  The numbers of
the sentence must be stated by a supporting source (``1.2만`` = 12,000, percent,
multipliers): a sentence with a number no supporting source states is removed.  A sentence
left without a supporting citation is removed, except a short connective one ("Two papers
address this.") -- and an uncited sentence is checked against the citations of its
paragraph.  An answer left with no supported claim becomes the refusal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..records import IndexDoc
from ..text.generated import (
    Sentence,
    find_citations,
    prompt_echo,
    source_values,
    split_sentences,
    stated_numbers,
    strip_citations,
)
from ..text.hangul import has_hangul
from ..text.numbers import is_supported
from .lexical import tokenize_en, tokenize_ko

MIN_SUPPORT = 0.5  # share of a sentence's content words its source must contain
CONNECTIVE_WORDS = 3  # an uncited sentence with fewer content words is connective text

_GENERIC = frozenset(
    tokenize_en(
        "paper papers propose proposes proposed present presents introduce introduces introduced study "
        "studies work works approach method model models show shows shown result results research "
        "author authors novel researcher researchers describe describes achieve according source sources "
        "digest digests"
    )
) | frozenset(
    "논문 연구 제안 방법 모델 소개 자료 따르 다음 같 있 되 보이 통하 위하 대하 하 이 그 것 수 등".split()  # noqa: SIM905
)


@dataclass
class Unsupported:
    arxiv_id: str
    sentence: str
    reason: str  # "not_in_source": its words are not there; "unknown_source": not retrieved


@dataclass
class Removed:
    sentence: str
    reason: str  # no_supported_citation, number_not_in_sources, prompt_echo, hangul, refusal


@dataclass
class ClaimReport:
    text: str = ""
    citations: list[str] = field(default_factory=list)  # supporting ids, in order of first use
    unsupported: list[Unsupported] = field(default_factory=list)
    removed: list[Removed] = field(default_factory=list)
    unsupported_numbers: list[str] = field(default_factory=list)
    claims: int = 0  # sentences kept with a supporting citation
    raw_citations: int = 0  # (sentence, id) citations the model wrote
    refusal_seen: bool = False


def doc_values(doc: IndexDoc) -> set[float]:
    """Every number an entry states (its texts and its date)."""
    dates = [doc.date.isoformat().replace("-", " ")] if doc.date else []
    return source_values([doc.korean], [doc.english, doc.title, *dates])


class _Source:
    def __init__(self, doc: IndexDoc) -> None:
        self.doc = doc
        self.english = set(tokenize_en(doc.english)) | set(tokenize_en(doc.korean))
        self._korean: set[str] | None = None
        self.values = doc_values(doc)

    @property
    def korean(self) -> set[str]:
        if self._korean is None:  # the Korean analyser only for Korean answers
            self._korean = set(tokenize_ko(self.doc.korean))
        return self._korean


def content_words(sentence: str) -> list[str]:
    text = strip_citations(sentence)
    tokens = tokenize_ko(text) if has_hangul(text) else tokenize_en(text)
    return list(dict.fromkeys(t for t in tokens if t not in _GENERIC))


class AnswerChecker:
    """Feed the model's text as it arrives; :meth:`feed` and :meth:`finish` return the text
    that passed, ready to show.  Nothing is released before the first supported claim, so a
    refusal never follows text already shown."""

    def __init__(
        self,
        sources: dict[str, IndexDoc],
        *,
        language: str,
        prompt: str = "",
        refusals: tuple[str, ...] = (),
        translate: Callable[[str], set[str]] | None = None,
    ) -> None:
        self.sources = {k.lower(): _Source(v) for k, v in sources.items()}
        self.cite_ids = {k.lower(): k for k in sources}
        self.language = language
        self.prompt = prompt
        self.refusals = tuple(" ".join(r.split()).casefold() for r in refusals)
        self.translate = translate  # Korean token -> English tokens (the bridge)
        self.report = ClaimReport()
        self._buffer = ""
        self._done = 0  # sentences of the buffer already decided
        self._pending: list[Sentence] = []  # uncited sentences waiting for their paragraph's citation
        self._last_cited: tuple[int, tuple[str, ...]] | None = None
        self._kept: list[tuple[Sentence, str]] = []  # (sentence, its cleaned text)
        self._released = 0
        self._last_paragraph: int | None = None

    # -- streaming ------------------------------------------------------------------------------

    def feed(self, delta: str) -> str:
        self._buffer += delta
        sentences = split_sentences(self._buffer)
        while self._done < len(sentences) - 1 and _complete(sentences[self._done + 1]):
            self._decide(sentences[self._done], more=sentences[self._done + 1])
            self._done += 1
        return self._release()

    def finish(self) -> str:
        sentences = split_sentences(self._buffer)
        for s in sentences[self._done :]:
            self._decide(s, more=None)
        self._done = len(sentences)
        self._flush_pending(None)
        out = self._release(final=True)
        self.report.text = "".join(self._render(i) for i in range(len(self._kept))).strip()
        return out

    # -- decisions ----------------------------------------------------------------------------

    def _decide(self, s: Sentence, more: Sentence | None) -> None:
        if self._pending and self._pending[-1].paragraph != s.paragraph:
            self._flush_pending(None)
        if self._last_cited and self._last_cited[0] != s.paragraph:
            self._last_cited = None
        ids = tuple(dict.fromkeys(i for m in find_citations(s.text) for i in m.ids))
        if not ids:
            self._pending.append(s)
            if more is None or more.paragraph != s.paragraph:
                self._flush_pending(None)
            return
        self._flush_pending(ids)
        self._last_cited = (s.paragraph, ids)
        self._check(s, ids, cited=True)

    def _flush_pending(self, ids: tuple[str, ...] | None) -> None:
        inherited = ids or (self._last_cited[1] if self._last_cited else None)
        for s in self._pending:
            if inherited:
                self._check(s, inherited, cited=False)
            else:
                self._check_uncited(s)
        self._pending = []

    def _screen(self, s: Sentence) -> str | None:
        flat = " ".join(strip_citations(s.text).split()).casefold()
        if any(r and r in flat for r in self.refusals):
            self.report.refusal_seen = True
            return "refusal"
        if prompt_echo(s.text, self.prompt):
            return "prompt_echo"
        if self.language == "en" and has_hangul(strip_citations(s.text)):
            return "hangul"
        return None

    def _check(self, s: Sentence, ids: tuple[str, ...], *, cited: bool) -> None:
        reason = self._screen(s)
        if reason:
            self.report.removed.append(Removed(s.text, reason))
            return
        words = content_words(s.text)
        supporting: list[str] = []
        for cid in ids:
            if cited:
                self.report.raw_citations += 1
            src = self.sources.get(cid)
            if src is None:
                if cited:
                    self.report.unsupported.append(Unsupported(cid, s.text, "unknown_source"))
                continue
            if self._supports(words, src):
                supporting.append(cid)
            elif cited:
                self.report.unsupported.append(Unsupported(self.cite_ids[cid], s.text, "not_in_source"))
        if not supporting:
            if not cited and len(words) < CONNECTIVE_WORDS:
                self._keep(s, (), claim=False)
            else:
                self.report.removed.append(Removed(s.text, "no_supported_citation"))
            return
        values: set[float] = set().union(*(self.sources[c].values for c in supporting))
        if not self._numbers_supported(s, values):
            return
        self._keep(s, tuple(supporting) if cited else (), claim=True)

    def _check_uncited(self, s: Sentence) -> None:
        reason = self._screen(s)
        if reason:
            self.report.removed.append(Removed(s.text, reason))
            return
        if len(content_words(s.text)) >= CONNECTIVE_WORDS:
            self.report.removed.append(Removed(s.text, "no_supported_citation"))
            return
        values: set[float] = set().union(*(src.values for src in self.sources.values()))
        if not self._numbers_supported(s, values):
            return
        self._keep(s, (), claim=False)

    def _numbers_supported(self, s: Sentence, values: set[float]) -> bool:
        """Is every number ``s`` states among ``values``?  If not, the sentence is removed and
        its unsupported numbers recorded."""
        missing = [w for w, acc in stated_numbers(s.text) if not any(is_supported(v, values) for v in acc)]
        if not missing:
            return True
        self.report.unsupported_numbers += [m for m in missing if m not in self.report.unsupported_numbers]
        self.report.removed.append(Removed(s.text, "number_not_in_sources"))
        return False

    def _supports(self, words: list[str], src: _Source) -> bool:
        if not words:
            return False
        have = 0
        for w in words:
            if has_hangul(w):
                found = w in src.korean or bool(self.translate and self.translate(w) & src.english)
            else:
                found = w in src.english
            have += found
        return have >= min(2, len(words)) and have / len(words) >= MIN_SUPPORT

    def _keep(self, s: Sentence, supporting: tuple[str, ...], *, claim: bool) -> None:
        text = _rewrite_citations(s.text, supporting, self.cite_ids) if find_citations(s.text) else s.text
        self._kept.append((s, text))
        if claim:
            self.report.claims += 1
            for cid in supporting:
                real = self.cite_ids[cid]
                if real not in self.report.citations:
                    self.report.citations.append(real)

    # -- output -------------------------------------------------------------------------------

    def _render(self, i: int) -> str:
        s, text = self._kept[i]
        if i == 0:
            return text
        prev = self._kept[i - 1][0]
        if prev.paragraph == s.paragraph:
            return " " + text
        return ("\n\n" if "\n\n" in prev.sep else "\n") + text

    def _release(self, *, final: bool = False) -> str:
        if self.report.claims == 0 and not final:
            return ""  # nothing before the first supported claim
        if self.report.claims == 0:
            return ""
        out = "".join(self._render(i) for i in range(self._released, len(self._kept)))
        self._released = len(self._kept)
        return out


def _complete(following: Sentence) -> bool:
    """A sentence is decided once the next one has begun with words (not a citation that may
    still belong to it)."""
    head = following.text.lstrip()
    return bool(head) and head[0] not in "[(" and len(head) >= 3


def _rewrite_citations(text: str, keep: tuple[str, ...], cite_ids: dict[str, str]) -> str:
    """Every citation mark rewritten as ``[id]`` marks of the kept ids (dropped when none)."""
    out: list[str] = []
    pos = 0
    for m in find_citations(text):
        out.append(text[pos : m.start])
        kept = [cite_ids[i] for i in m.ids if i in keep]
        if kept:
            out.append(" " + " ".join(f"[{k}]" for k in kept))
        pos = m.end
    out.append(text[pos:])
    joined = "".join(out)
    return " ".join(joined.replace(" .", ".").replace(" ,", ",").split(" ")).strip()
