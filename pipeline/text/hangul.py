"""THE Hangul character class, and the questions asked with it.

Hangul is every block of the Unicode Hangul script that spells Korean letters:

=================  ===========  ===============================================
block              range        why it belongs
=================  ===========  ===============================================
Jamo               1100-11FF    conjoining letters (decomposed text, NFD)
Compatibility      3130-318F    lone letters as typed: "ㅋㅋ", "ㄱ-ㅎ"
Jamo Extended-A    A960-A97F    archaic initial consonants (conjoining)
Syllables          AC00-D7A3    the 11,172 precomposed syllables: running text
Jamo Extended-B    D7B0-D7FF    archaic vowels and finals (conjoining)
Halfwidth          FFA0-FFDC    half-width letters of legacy (CP949-era) text
=================  ===========  ===============================================

Left out on purpose: the enclosed and parenthesised Hangul of 3200-32FF (list markers such
as "㉠", symbols rather than words).  Any character of the class left in an English
translation means Korean was left untranslated.

:data:`SYLLABLES` is the one sub-range rules use when they need whole syllables (the
Korean side of a mined ``한국어(English)`` term, word stems).
"""

from __future__ import annotations

import re

SYLLABLES = "\uac00-\ud7a3"
HANGUL_CHARS = "\u1100-\u11ff\u3130-\u318f\ua960-\ua97f" + SYLLABLES + "\ud7b0-\ud7ff\uffa0-\uffdc"

HANGUL = re.compile(f"[{HANGUL_CHARS}]")
HANGUL_RUN = re.compile(f"[{HANGUL_CHARS}]+")


def has_hangul(text: str | None) -> bool:
    return bool(text) and HANGUL.search(text) is not None  # type: ignore[arg-type]


def hangul_ratio(text: str | None) -> float:
    """Share of Hangul among the letters of ``text`` (0.0 for no letters)."""
    letters = [c for c in text or "" if c.isalpha()]
    if not letters:
        return 0.0
    return sum(1 for c in letters if HANGUL.match(c)) / len(letters)


def hangul_runs(text: str | None) -> list[str]:
    """The runs of Hangul in ``text``, in order (what is left untranslated)."""
    return HANGUL_RUN.findall(text or "")
