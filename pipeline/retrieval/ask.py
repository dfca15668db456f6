"""Grounded question answering over the index: retrieve, check that the store holds an
answer, answer from the retrieved entries only, check every claim.

1. Retrieval, then the retrieval-side support check (``support.py``): a question about
   something the store does not hold is refused before any LLM is asked
   (``refused_by: "retrieval"``).
2. The question is translated by the LLM (``query_translation.py``, cached) and searched
   again in both languages.
3. The LLM sees the retrieved entries inside ``<source id="ARXIV_ID">`` tags (escaped, so a
   source cannot close its tag and pose as instructions) and the question inside
   ``<question>``.
4. Its reply is checked sentence by sentence as it arrives (``claims.py``): unsupported and
   unknown citations are dropped, sentences with numbers the sources do not state are
   removed, and only what passed is streamed.  The model's own refusal, or a reply with no
   supported claim left, gives the fixed refusal phrase (``refused_by: "model"`` /
   ``"check"``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any

from ..errors import InputError
from ..prompts import load_prompt
from ..records import (
    Answer,
    AnswerSupport,
    Citation,
    Hit,
    IndexDoc,
    RemovedClaim,
    UnsupportedCitation,
)
from ..settings import Settings
from ..text.escape import escape_data, unescape_data
from ..text.generated import find_citations, source_values, unsupported_numbers
from ..text.hangul import has_hangul
from .claims import AnswerChecker, ClaimReport
from .followup import Turn, followup_query, pick_hits, with_history
from .query_translation import translate_query
from .searcher import Searcher

log = logging.getLogger(__name__)

REFUSALS = {
    "en": "I cannot answer this question from the digests.",
    "ko": "다이제스트에서 이 질문에 대한 답을 찾을 수 없습니다.",
}
LANGUAGE_NAMES = {"en": "English", "ko": "Korean"}
MAX_ANSWER_TOKENS = 800


def answer_language(settings: Settings, question: str) -> str:
    lang = settings.ask.language
    if lang:
        if lang not in REFUSALS:
            raise InputError(f"unsupported answer language {lang!r}: use one of {', '.join(REFUSALS)}")
        return lang
    return "ko" if has_hangul(question) else "en"


def source_block(doc: IndexDoc, *, with_korean: bool) -> str:
    """One ``<source>``: title and date, the English text, and the Korean original when the
    answer is Korean or part of the entry is untranslated."""
    when = f" ({doc.date.isoformat()})" if doc.date else ""
    parts = [f"Paper: {doc.title}{when}."]
    if doc.translated.strip():
        parts.append(doc.translated.strip())
    if with_korean or doc.sections_translated < doc.sections_total:
        korean = doc.korean.split("\n", 1)[1] if "\n" in doc.korean else ""
        if korean.strip():
            parts.append("Korean original.\n" + korean.strip())
    # source text is data: no tag inside it may close ``<source>`` or open another
    body = escape_data("\n\n".join(parts))
    return f'<source id="{escape_data(doc.cite_id, attribute=True)}">\n' + body + "\n</source>"


def build_messages(
    prompt_text: str, question: str, docs: list[IndexDoc], language: str
) -> list[dict[str, str]]:
    system = prompt_text.replace("{{refusal}}", REFUSALS[language]).replace(
        "{{language}}", LANGUAGE_NAMES[language]
    )
    blocks = [source_block(d, with_korean=language == "ko") for d in docs]
    user = "\n\n".join(blocks) + f"\n\n<question>{escape_data(question.strip())}</question>"
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


# ------------------------------------------------------------------------------- checks


def _is_refusal(text: str) -> bool:
    flat = " ".join(text.split()).strip().casefold()
    return any(r.casefold() in flat for r in REFUSALS.values()) or flat in ("", "i cannot answer.")


def check_citations(text: str, allowed: dict[str, IndexDoc]) -> tuple[str, list[str], list[str]]:
    """Keep citations of retrieved sources (any form: ``[id]``, ``(id)``, ``[arXiv:id]``,
    ``[idv2]``), rewritten as ``[id]``; drop the others.
    Returns (clean text, cited ids in order, removed ids)."""
    lookup = {k.lower(): k for k in allowed}
    cited: list[str] = []
    removed: list[str] = []
    out: list[str] = []
    pos = 0
    for mark in find_citations(text):
        out.append(text[pos : mark.start])
        kept = []
        for i in mark.ids:
            if i in lookup:
                kept.append(lookup[i])
                if lookup[i] not in cited:
                    cited.append(lookup[i])
            elif i not in removed:
                removed.append(i)
        if kept:
            out.append(" " + " ".join(f"[{k}]" for k in kept))
        pos = mark.end
    out.append(text[pos:])
    clean = re.sub(r"[ \t]+([.,;:!?])", r"\1", "".join(out))
    return clean.strip(), cited, removed


def check_numbers(text: str, sources: list[IndexDoc]) -> list[str]:
    """Numbers in ``text`` that none of ``sources`` states (English or Korean text;
    1,000 == 1000; 730만 == 7.3 million; model names such as GPT-4 are not numbers)."""
    values = source_values(
        [doc.korean for doc in sources],
        [doc.english for doc in sources]
        + [doc.date.isoformat().replace("-", " ") for doc in sources if doc.date],
    )
    return unsupported_numbers(text, values)  # citations are no claims


# ------------------------------------------------------------------------------- ask


def refusal_answer(
    question: str,
    language: str,
    hits: list[Hit],
    refused_by: str | None = None,
    support: AnswerSupport | None = None,
) -> Answer:
    return Answer(
        question=question,
        answer=REFUSALS[language],
        language=language,
        refused=True,
        refused_by=refused_by,  # type: ignore[arg-type]
        support=support,
        retrieved=hits,
    )


def check_support(settings: Settings, searcher: Searcher, question: str, hits: list[Hit]) -> AnswerSupport:
    """The retrieval-side check (``support.py``): does an entry hold what the question asks?"""
    found = searcher.support(
        question,
        [h.entry_id for h in hits],
        min_coverage=settings.ask.min_relevance,
        combination_gain=settings.ask.combination_gain,
    )
    return AnswerSupport(**asdict(found))


def ask(
    settings: Settings,
    question: str,
    *,
    llm: Any = None,
    searcher: Searcher | None = None,
    stream_to: Callable[[str], None] | None = None,
    history: Sequence[Turn] = (),
) -> Answer:
    """Answer ``question`` from the digests, with citations, or refuse.  ``stream_to``
    receives only text that passed the checks, as it passes.  ``history``: the
    conversation's earlier turns, for a follow-up question (``followup.py``)."""
    question = (question or "").strip()
    if not question:
        raise InputError("empty question")
    language = answer_language(settings, question)
    searcher = searcher or Searcher(settings)
    hits = searcher.search(question, k=settings.ask.k)
    context_query = followup_query(question, history)
    if context_query is not None:
        hits = pick_hits(hits, searcher.search(context_query, k=settings.ask.k))
    # a follow-up names little of its own: what it refers back to counts for the support check
    support = check_support(settings, searcher, context_query or question, hits)
    if not hits or support.reason:
        log.info("refused before asking the LLM: %s", support.reason or "nothing retrieved")
        answer = refusal_answer(question, language, hits, "retrieval", support)
        if stream_to is not None:
            stream_to(answer.answer)
        return answer

    if llm is None:
        from ..llm.client import make_llm  # the openai SDK is slow to import: only when asking

        llm = make_llm(settings)
    translated = translate_query(settings, question, llm, searcher.bridge)
    if translated.texts and context_query is None:  # search again with the question in both languages
        hits = searcher.search(question, k=settings.ask.k, translation=translated.texts)
    docs = [searcher.doc(h.entry_id) for h in hits]
    prompt = load_prompt(settings, settings.ask.prompt)
    messages = with_history(build_messages(prompt.text, question, docs, language), history)
    bridge = searcher.bridge
    checker = make_checker(docs, language, messages[0]["content"], bridge.english_of if bridge else None)
    raw: list[str] = []
    if stream_to is not None:
        for delta in llm.stream(messages, max_tokens=MAX_ANSWER_TOKENS):
            raw.append(delta)
            passed = checker.feed(delta)
            if passed:  # the sources went to the model escaped: its text is unescaped once
                stream_to(unescape_data(passed))
    else:
        raw.append(llm.complete(messages, max_tokens=MAX_ANSWER_TOKENS).text)
        checker.feed(raw[0])
    tail = checker.finish()
    answer = answer_from_report(question, language, "".join(raw), checker.report, hits, support)
    answer.query_translation = translated.texts
    if stream_to is not None:
        stream_to(answer.answer if answer.refused else unescape_data(tail))
    return answer


def make_checker(
    docs: list[IndexDoc], language: str, prompt: str = "", translate: Callable[[str], set[str]] | None = None
) -> AnswerChecker:
    return AnswerChecker(
        {d.cite_id: d for d in docs},
        language=language,
        prompt=prompt,
        refusals=tuple(REFUSALS.values()),
        translate=translate,
    )


def finish_answer(
    question: str,
    language: str,
    raw: str,
    docs: list[IndexDoc],
    hits: list[Hit],
    *,
    prompt: str = "",
    translate: Callable[[str], set[str]] | None = None,
) -> Answer:
    """Check a whole reply at once (what :func:`ask` does as the reply streams)."""
    checker = make_checker(docs, language, prompt, translate)
    checker.feed(raw)
    checker.finish()
    return answer_from_report(question, language, raw, checker.report, hits)


def answer_from_report(
    question: str,
    language: str,
    raw: str,
    report: ClaimReport,
    hits: list[Hit],
    support: AnswerSupport | None = None,
) -> Answer:
    """The answer from the checked reply: the refusal when no claim survived."""
    unsupported = [UnsupportedCitation(**asdict(u)) for u in report.unsupported]
    removed = [RemovedClaim(**asdict(r)) for r in report.removed]
    unknown = list(dict.fromkeys(u.arxiv_id for u in unsupported if u.reason == "unknown_source"))
    if unknown:
        log.warning("removed citations of sources that were not retrieved: %s", ", ".join(unknown))
    if report.claims == 0:
        by = "model" if _is_refusal(raw) or report.refusal_seen else "check"
        if by == "check":
            log.warning("no sentence of the answer is supported by its sources: replaced by the refusal")
        answer = refusal_answer(question, language, hits, by, support)
    else:
        if report.unsupported_numbers:
            log.warning(
                "removed sentences with numbers the sources do not state: %s",
                ", ".join(report.unsupported_numbers),
            )
        by_id = {h.arxiv_id or h.entry_id: h for h in hits}
        answer = Answer(
            question=question,
            answer=unescape_data(report.text),  # the sources went to the model escaped
            language=language,
            citations=[
                Citation(arxiv_id=c, title=by_id[c].title if c in by_id else None) for c in report.citations
            ],
            support=support,
            retrieved=hits,
        )
    answer.removed_citations = unknown
    answer.unsupported_citations = unsupported
    answer.unsupported_numbers = report.unsupported_numbers
    answer.removed_claims = removed
    return answer


class AskSession:
    """Models, indexes and the LLM loaded once, for interactive use and evaluation."""

    def __init__(self, settings: Settings, *, llm: Any = None) -> None:
        self.settings = settings
        self.searcher = Searcher(settings)
        self._llm = llm

    @property
    def llm(self) -> Any:
        if self._llm is None:
            from ..llm.client import make_llm  # the openai SDK is slow to import: only when asking

            self._llm = make_llm(self.settings)
        return self._llm

    @property
    def loaded_llm(self) -> Any:
        """The LLM if a question has needed it yet (refusals don't), else None."""
        return self._llm

    def ask(
        self,
        question: str,
        stream_to: Callable[[str], None] | None = None,
        history: Sequence[Turn] = (),
    ) -> Answer:
        return ask(
            self.settings,
            question,
            llm=self.llm,
            searcher=self.searcher,
            stream_to=stream_to,
            history=history,
        )
