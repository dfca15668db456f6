"""Checks of model-written text before anyone reads it: answers, newsletter intros, TL;DRs,
query translations.  One module, used by ``ask``, the newsletter and enrich alike.

- :func:`find_citations`: the citation marks of a text, in every form a model writes them:
  ``[2406.02539]``, ``(2406.02539)``, ``[arXiv:2406.02539]``, ``[2406.02539v2]``,
  ``[2406.02539, 2410.13859]``, ``[title-1a2b3c]``;
- :func:`split_sentences`: sentences with their trailing citations and separators, so a text
  can be rebuilt from the sentences that pass;
- :func:`prompt_echo`: the text repeats the prompt's instructions or our data tags;
- :func:`unsupported_numbers`: numbers the sources do not state (Korean units, percent,
  multipliers and scales understood by ``numbers.py``);
- :func:`check_generated`: all of the above for one text, as a list of problems.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .hangul import has_hangul
from .numbers import (
    CLAIM,
    EN_SCALE,
    EN_SCALE_VALUE,
    is_supported,
    source_numbers,
    supported_numbers,
    to_float,
)

# -- citations -------------------------------------------------------------------------------

_ID = r"(?:arxiv:\s*)?(?:\d{4}\.\d{4,5}(?:v\d+)?|title-[0-9a-f]{4,40})"
_CITATION = re.compile(
    rf"\s?(?:\[\s*({_ID}(?:\s*[,;]\s*{_ID})*)\s*\]|\(\s*({_ID}(?:\s*[,;]\s*{_ID})*)\s*\))(?!\()",
    re.IGNORECASE,
)
_ONE_ID = re.compile(r"(?:arxiv:\s*)?(\d{4}\.\d{4,5}|title-[0-9a-f]{4,40})(?:v\d+)?", re.IGNORECASE)


@dataclass(frozen=True)
class CitationMark:
    start: int
    end: int
    ids: tuple[str, ...]  # without "arXiv:" and version, in order


def find_citations(text: str) -> list[CitationMark]:
    """Every citation mark in ``text`` (brackets or parentheses holding only ids)."""
    marks: list[CitationMark] = []
    for m in _CITATION.finditer(text or ""):
        inner = m.group(1) or m.group(2) or ""
        ids = tuple(dict.fromkeys(x.group(1).lower() for x in _ONE_ID.finditer(inner)))
        if ids:
            marks.append(CitationMark(m.start(), m.end(), ids))
    return marks


def strip_citations(text: str) -> str:
    """``text`` without its citation marks (what a sentence claims)."""
    return re.sub(r"[ \t]+([.,;:!?])", r"\1", _CITATION.sub("", text or "")).strip()


def cited_ids(text: str) -> list[str]:
    return list(dict.fromkeys(i for m in find_citations(text) for i in m.ids))


def unknown_citations(text: str, allowed: Iterable[str]) -> list[str]:
    """Cited ids that are not among ``allowed`` (compared without case and version)."""
    known = {a.lower() for a in allowed}
    return [i for i in cited_ids(text) if i not in known]


# -- sentences -------------------------------------------------------------------------------

# a sentence ends at . ! ? (or 。) before white space; its citations may follow the stop
_END = re.compile(r"(?<=[.!?。])[\"')\]]*(?=\s)")
_LEAD_CITATIONS = re.compile(rf"^(?:{_CITATION.pattern})+", re.IGNORECASE)


@dataclass
class Sentence:
    text: str  # the sentence with its citation marks
    sep: str  # the white space after it (kept when the text is rebuilt)
    paragraph: int  # sentences of one paragraph (or list item) share a number


def split_sentences(text: str) -> list[Sentence]:
    """Sentences in order; a citation written after the full stop belongs to the sentence
    before it; lines (list items, paragraphs) are never joined."""
    out: list[Sentence] = []
    paragraph = 0
    for line_match in re.finditer(r"[^\n]*(\n+|$)", text or ""):
        line, newlines = line_match.group(0).rstrip("\n"), line_match.group(1)
        if not line.strip():
            if newlines:
                paragraph += 1
            continue
        pieces: list[str] = []
        rest = line
        while rest:
            m = _END.search(rest)
            if m is None:
                pieces.append(rest)
                break
            head, tail = rest[: m.end()], rest[m.end() :]
            lead = _LEAD_CITATIONS.match(tail)
            if lead:  # "... questions. [2406.02539] Next" -> the mark stays with "questions."
                head, tail = head + tail[: lead.end()], tail[lead.end() :]
            pieces.append(head)
            rest = tail
        pieces = [p for p in pieces if p.strip()]
        for i, piece in enumerate(pieces):
            stripped = piece.strip()
            sep = " " if i < len(pieces) - 1 else newlines
            out.append(Sentence(stripped, sep, paragraph))
        if newlines:
            paragraph += 1
    return out


def join_sentences(sentences: Sequence[Sentence]) -> str:
    return "".join(s.text + s.sep for s in sentences).strip()


# -- prompt echo -----------------------------------------------------------------------------

_TAGS = re.compile(
    r"</?(?:source|question|refusal|paper|issue|topics|title|summary|segment|glossary|query|terms|"
    r"json_schema)\b[^>]*>",
    re.IGNORECASE,
)
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
ECHO_WORDS = 6  # a run of this many words of the instructions is an echo


def _instructions(prompt: str) -> str:
    """The prompt without the phrases it asks the model to say (``<refusal>...</refusal>``)."""
    return re.sub(r"<refusal>.*?</refusal>", " ", prompt or "", flags=re.S)


def prompt_echo(text: str, prompt: str | None) -> bool:
    """True when ``text`` holds our data tags, a heading of the prompt, or a run of
    :data:`ECHO_WORDS` words of its instructions."""
    if _TAGS.search(text or ""):
        return True
    if not prompt:
        return False
    instructions = _instructions(prompt)
    headings = {h.strip().casefold() for h in re.findall(r"^#+\s*(.+)$", instructions, re.M)}
    for line in (text or "").splitlines():
        m = re.match(r"^\s*#+\s*(.+)$", line)
        if m and any(m.group(1).strip().casefold().startswith(h) for h in headings):
            return True
    words = [w.casefold() for w in _WORD.findall(instructions)]
    grams = {tuple(words[i : i + ECHO_WORDS]) for i in range(len(words) - ECHO_WORDS + 1)}
    said = [w.casefold() for w in _WORD.findall(text or "")]
    return any(tuple(said[i : i + ECHO_WORDS]) in grams for i in range(len(said) - ECHO_WORDS + 1))


# -- numbers ---------------------------------------------------------------------------------


def stated_values(text: str) -> list[tuple[str, set[float]]]:
    """The numbers a generated text (an answer, a question, an intro) states: ``(as written,
    every value it may mean)``, in order.  Korean text is read like a source (``1.2만`` =
    12,000, ``3억``: ``numbers.source_numbers``); in English a scale after the number counts
    (``110K`` = 110,000, ``6 million``, ``2.5B``); digits of names (GPT-4, Qwen-2) are skipped."""
    if has_hangul(text or ""):
        return source_numbers(text)
    out: list[tuple[str, set[float]]] = []
    for m in CLAIM.finditer(text or ""):
        if re.match(r"[A-Za-z]-", text[max(0, m.start() - 2) : m.start()]):
            continue
        value, written = to_float(m), m.group(0).strip()
        scale = None if m.group(3) else EN_SCALE.match(text[m.end() :])
        if scale:
            written += scale.group(0) if scale.group(0)[:1].isalpha() else " " + scale.group(1)
        out.append((written, {value, value * EN_SCALE_VALUE[scale.group(1).lower()]} if scale else {value}))
    return out


def stated_numbers(text: str) -> list[tuple[str, set[float]]]:
    """The numbers a generated text states, as written, each with the values it may mean:
    Korean units (``1.2만`` = 12,000), percent, multipliers (``2배``, ``2x``) and scales
    (``7B``, ``1.2 billion``) read as ``numbers.py`` reads them; names (GPT-4) skipped."""
    return stated_values(strip_citations(text))


def source_values(korean: Iterable[str], english: Iterable[str] = ()) -> set[float]:
    """Every value a set of sources states (see ``numbers.supported_numbers``)."""
    return supported_numbers(list(korean), list(english))


def unsupported_numbers(text: str, values: set[float]) -> list[str]:
    """Numbers of ``text`` (as written) none of whose readings is among ``values``."""
    out: list[str] = []
    for written, accepted in stated_numbers(text):
        if not any(is_supported(v, values) for v in accepted) and written not in out:
            out.append(written)
    return out


# -- everything at once ----------------------------------------------------------------------


def check_generated(
    text: str,
    *,
    language: str = "en",
    prompt: str | None = None,
    source_numbers_: set[float] | None = None,
    allowed_citations: Iterable[str] | None = None,
) -> list[str]:
    """Problems of one generated text, empty when it may be shown: ``empty``,
    ``prompt_echo``, ``hangul_in_english``, ``unknown_citation:<id>``,
    ``number_not_in_sources:<n>``.  Checks that need a source run only when it is given."""
    if not (text or "").strip():
        return ["empty"]
    problems: list[str] = []
    if prompt_echo(text, prompt):
        problems.append("prompt_echo")
    if language == "en" and has_hangul(text):
        problems.append("hangul_in_english")
    if allowed_citations is not None:
        problems += [f"unknown_citation:{i}" for i in unknown_citations(text, allowed_citations)]
    if source_numbers_ is not None:
        problems += [f"number_not_in_sources:{n}" for n in unsupported_numbers(text, source_numbers_)]
    return problems
