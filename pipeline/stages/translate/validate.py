"""The checks of one translated segment: no Hangul left, every number of the source kept,
the glossary's English terms used (in any inflected form: ``text/english.py``), the English
already in the source kept, and a length that a translation can have (a reply that obeyed an
instruction hidden in the segment, or repeats the prompt, is no translation of it)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from ...text.english import uses_term
from ...text.hangul import hangul_runs, has_hangul
from ...text.numbers import missing_numbers
from ...text.terms import english_terms

# An English translation of Korean text is about 1.5-3 times as long (in characters); these
# bounds leave wide room and still catch a reply that is something else.
MIN_LENGTH_RATIO, MIN_CHECKED_LENGTH = 0.25, 40
MAX_LENGTH_RATIO, MAX_LENGTH_SLACK = 5.0, 300
# the source's own English words (names, terms, quoted English) are kept verbatim; a reply
# missing half of them translated something else.  On 444 reviewed translations of the seed
# digests the most any missed is 29%; a neighbouring section's translation misses >= 50% in
# 253 of 304 cases.
MIN_LATIN_WORDS, MAX_MISSING_SHARE = 3, 0.5
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]+")


def validate(
    source: str,
    translation: str,
    glossary: tuple[tuple[str, str], ...] = (),
    exceptions: Mapping[str, str] | None = None,
) -> list[str]:
    """Problems of one translated segment (empty list: fine).

    ``exceptions``: Korean terms whose glossary rendering a reviewer judged wrong for this
    text (a homonym: ``정렬`` is "alignment" and also "ordering"), with the reason.  Only a
    reviewed translation-memory pair carries them (``glossary_exceptions``); a model's
    translation is always held to the whole glossary."""
    problems: list[str] = []
    if not translation.strip():
        return ["empty translation"]
    if has_hangul(translation):
        left = hangul_runs(translation)[:3]
        problems.append("Korean text left untranslated: " + ", ".join(left))
    missing = missing_numbers(source, translation)
    if missing:
        problems.append("numbers of the source missing: " + ", ".join(missing))
    skip = exceptions or {}
    unused = [f"{ko} => {en}" for ko, en in glossary if ko not in skip and not uses_term(en, translation)]
    if unused:
        problems.append("glossary terms not used: " + "; ".join(unused))
    problems.extend(_shape_problems(source, translation))
    return problems


def _shape_problems(source: str, translation: str) -> list[str]:
    """A translation that keeps too little of the source's English, or whose length no
    translation of it would have."""
    problems: list[str] = []
    words = {w.lower() for term in english_terms(source) for w in _WORD.findall(term)}
    if len(words) >= MIN_LATIN_WORDS:
        have = {w.lower() for w in _WORD.findall(translation)}
        missing = sorted(words - have)
        if len(missing) >= MAX_MISSING_SHARE * len(words):
            problems.append("English words of the source missing: " + ", ".join(missing[:8]))
    n, m = len(source.strip()), len(translation.strip())
    if n >= MIN_CHECKED_LENGTH and m < MIN_LENGTH_RATIO * n:
        problems.append(f"translation much shorter than the source ({m} vs {n} characters)")
    if m > MAX_LENGTH_RATIO * n + MAX_LENGTH_SLACK:
        problems.append(f"translation much longer than the source ({m} vs {n} characters)")
    return problems
