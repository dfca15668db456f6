"""Grounded question answering over the index: retrieve, answer from the retrieved
entries only, check the answer.

The LLM sees the retrieved entries inside ``<source id="ARXIV_ID">`` tags (escaped, so a
source cannot close its tag and pose as instructions) and the question inside
``<question>``.  Its reply is checked: citations of anything not retrieved are removed
and reported, numbers not found in the cited sources are reported, and an answer that
cites nothing becomes the refusal.  When retrieval finds nothing relevant enough the
LLM is not asked at all.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from typing import Any

from ..errors import InputError
from ..prompts import load_prompt
from ..records import Answer, Citation, Hit, IndexDoc
from ..settings import Settings
from ..text.escape import escape_data, unescape_data
from ..text.hangul import has_hangul
from ..text.numbers import claimed_numbers, is_supported, supported_numbers
from .followup import Turn, followup_query, pick_hits, with_history
from .searcher import Searcher

log = logging.getLogger(__name__)

REFUSALS = {
    "en": "I cannot answer this question from the digests.",
    "ko": "다이제스트에서 이 질문에 대한 답을 찾을 수 없습니다.",
}
LANGUAGE_NAMES = {"en": "English", "ko": "Korean"}
MAX_ANSWER_TOKENS = 800

_BRACKET = re.compile(r"\s?\[([^\[\]\n]{1,300})\](?!\()")
_ARXIV_LIKE = re.compile(r"^(?:arxiv:\s*)?(\d{4}\.\d{4,5})(?:v\d+)?$", re.I)


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
    """Keep ``[id]`` citations of retrieved sources; drop the others.
    Returns (clean text, cited ids in order, removed ids)."""
    cited: list[str] = []
    removed: list[str] = []
    lookup = {k.casefold(): k for k in allowed}

    def fix(m: re.Match[str]) -> str:
        parts = [p.strip() for p in re.split(r"[,;]\s*|\s+(?=\d{4}\.)", m.group(1)) if p.strip()]
        keep: list[str] = []
        looked_like_citation = False
        for part in parts:
            am = _ARXIV_LIKE.match(part)
            key = am.group(1) if am else part
            if key.casefold() in lookup:
                looked_like_citation = True
                cid = lookup[key.casefold()]
                keep.append(cid)
                if cid not in cited:
                    cited.append(cid)
            elif am or part.casefold().startswith(("title-", "arxiv")):
                looked_like_citation = True
                if key not in removed:
                    removed.append(key)
            else:
                keep.append(part)
        if not looked_like_citation:
            return m.group(0)  # a bracket that is no citation: leave it
        kept = [k for k in keep if k in allowed]
        return (" [" + ", ".join(kept) + "]") if kept else ""

    clean = _BRACKET.sub(fix, text)
    clean = re.sub(r"[ \t]+([.,;:!?])", r"\1", clean)
    return clean.strip(), cited, removed


def check_numbers(text: str, sources: list[IndexDoc]) -> list[str]:
    """Numbers in ``text`` that none of ``sources`` states (English or Korean text;
    1,000 == 1000; 730만 == 7.3 million; model names such as GPT-4 are not numbers)."""
    supported = supported_numbers(
        [doc.korean for doc in sources],
        [doc.english for doc in sources]
        + [doc.date.isoformat().replace("-", " ") for doc in sources if doc.date],
    )
    unsupported: list[str] = []
    for written, value in claimed_numbers(_BRACKET.sub(" ", text)):  # citations are no claims
        if not is_supported(value, supported) and written not in unsupported:
            unsupported.append(written)
    return unsupported


# ------------------------------------------------------------------------------- ask


def refusal_answer(question: str, language: str, hits: list[Hit]) -> Answer:
    return Answer(
        question=question, answer=REFUSALS[language], language=language, refused=True, retrieved=hits
    )


def ask(
    settings: Settings,
    question: str,
    *,
    llm: Any = None,
    searcher: Searcher | None = None,
    stream_to: Callable[[str], None] | None = None,
    history: Sequence[Turn] = (),
) -> Answer:
    """Answer ``question`` from the digests, with citations, or refuse.  ``history``: the
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
    best = max((h.relevance or 0.0 for h in hits), default=0.0)
    if not hits or best < settings.ask.min_relevance:
        log.info("no entry is relevant enough (best %.2f < %.2f): refusing", best, settings.ask.min_relevance)
        answer = refusal_answer(question, language, hits)
        if stream_to is not None:
            stream_to(answer.answer)
        return answer

    docs = [searcher.doc(h.entry_id) for h in hits]
    prompt = load_prompt(settings, settings.ask.prompt)
    messages = with_history(build_messages(prompt.text, question, docs, language), history)
    if llm is None:
        from ..llm.client import make_llm  # the openai SDK is slow to import: only when asking

        llm = make_llm(settings)
    if stream_to is not None:
        pieces: list[str] = []
        for delta in llm.stream(messages, max_tokens=MAX_ANSWER_TOKENS):
            pieces.append(delta)
            stream_to(delta)
        raw = "".join(pieces)
    else:
        raw = llm.complete(messages, max_tokens=MAX_ANSWER_TOKENS).text
    return finish_answer(question, language, raw, docs, hits)


def finish_answer(question: str, language: str, raw: str, docs: list[IndexDoc], hits: list[Hit]) -> Answer:
    """Check the model's reply: refusal, citations, numbers.  The sources went to the model
    escaped: the reply is unescaped here, once."""
    raw = unescape_data(raw)
    if _is_refusal(raw):
        return refusal_answer(question, language, hits)
    allowed = {d.cite_id: d for d in docs}
    text, cited, removed = check_citations(raw, allowed)
    if removed:
        log.warning("removed citations of sources that were not retrieved: %s", ", ".join(removed))
    if not cited:
        log.warning("the answer cites no retrieved source: replaced by the refusal")
        answer = refusal_answer(question, language, hits)
        answer.removed_citations = removed
        return answer
    cited_docs = [allowed[c] for c in cited]
    unsupported = check_numbers(text, cited_docs)
    if unsupported:
        log.warning("numbers not found in the cited sources: %s", ", ".join(unsupported))
    return Answer(
        question=question,
        answer=text,
        language=language,
        citations=[Citation(arxiv_id=c, title=allowed[c].title) for c in cited],
        removed_citations=removed,
        unsupported_numbers=unsupported,
        retrieved=hits,
    )


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
