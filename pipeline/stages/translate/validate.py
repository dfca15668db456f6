"""The checks of one translated segment: no Hangul left, every number of the source kept,
the glossary's English terms used."""

from __future__ import annotations

import re

from ...text.hangul import hangul_runs, has_hangul
from ...text.numbers import missing_numbers


def _norm_term(text: str) -> str:
    words = re.split(r"[\s\-_/]+", text.lower())
    return " ".join(w[:-1] if w.endswith("s") and len(w) > 3 else w for w in words if w)


def validate(source: str, translation: str, glossary: tuple[tuple[str, str], ...] = ()) -> list[str]:
    """Problems of one translated segment (empty list: fine)."""
    problems: list[str] = []
    if not translation.strip():
        return ["empty translation"]
    if has_hangul(translation):
        left = hangul_runs(translation)[:3]
        problems.append("Korean text left untranslated: " + ", ".join(left))
    missing = missing_numbers(source, translation)
    if missing:
        problems.append("numbers of the source missing: " + ", ".join(missing))
    norm_out = " " + _norm_term(translation) + " "
    unused = [
        f"{ko} => {en}"
        for ko, en in glossary
        if " " + _norm_term(en) + " " not in norm_out and _norm_term(en) not in norm_out
    ]
    if unused:
        problems.append("glossary terms not used: " + "; ".join(unused))
    return problems
