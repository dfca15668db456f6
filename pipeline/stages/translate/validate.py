"""The checks of one translated segment: no Hangul left, every number of the source kept,
the glossary's English terms used (in any inflected form: ``text/english.py``)."""

from __future__ import annotations

from collections.abc import Mapping

from ...text.english import uses_term
from ...text.hangul import hangul_runs, has_hangul
from ...text.numbers import missing_numbers


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
    return problems
