"""Where a Korean term occurs in running text as a word of its own, not inside another word.

A glossary term is found by :func:`find_term` only where it

- **starts a word**: it is not preceded by a Hangul syllable (``속성`` is not in ``연속성``,
  "continuity"), nor by a hyphen / middle dot / slash / underscore glued to a preceding
  word (``스파스 주의`` is not in ``블록-스파스 주의``, "block-sparse attention"); a term
  that begins with a Latin letter or digit must not follow one either (``AI 탐지기`` is
  not in ``XAI 탐지기``);
- **ends a word**, or is followed only by a grammatical ending: a particle (``적응을``,
  ``적응에서``, ``적응과``, ``적응도``, ``적응만``), the copula (``정렬이다``, ``정렬인``),
  the plural ``들``, or a verb formed with 하다 / 되다 / 시키다 (``적응하는``, ``정렬된``,
  ``정렬됩니다``).  Any other syllable glued to the term makes a different word and is no
  match: the derivational suffixes 형 (-type: ``적응형`` "adaptive"), 성 (-ness:
  ``적응성`` "adaptability"), 적 (-ic), 기 (-or / device: ``적응기`` "adaptor"), 화
  (-ization), 력 (ability), 률/율 (rate), 자 (-er), 법 (method), 링 (``앙상블링``)...

Spaces inside a term match any run of white space.  The glossary (matching a section's
terms, counting a term for the miner) and the validator use this rule and no other.
"""

from __future__ import annotations

import re
from functools import lru_cache

from .hangul import SYLLABLES

# grammatical endings that may follow a term (what is glued to it and keeps it the same word)
PARTICLES = (
    # case and topic particles, and their common compounds
    "이",
    "가",
    "을",
    "를",
    "은",
    "는",
    "의",
    "에",
    "와",
    "과",
    "도",
    "만",
    "로",
    "으로",
    "께",
    "랑",
    "처럼",
    "보다",
    "까지",
    "부터",
    "마다",
    "조차",
    "뿐",
    "밖에",
    # copula
    "인",
    "임",
    "입니",
    "이다",
    "이며",
    "이고",
    "이나",
    "이라",
    "이란",
    "라는",
    "란",
    "며",
    "나",
    "였",
    "이었",
    # plural
    "들",
)
# verbs formed from a noun: 하다, 되다, 시키다 in any conjugation
VERB_STARTS = (
    "하",
    "한",
    "할",
    "함",
    "합",
    "해",
    "했",
    "되",
    "된",
    "될",
    "됨",
    "됩",
    "돼",
    "됐",
    "시키",
    "시킨",
    "시킬",
    "시킵",
    "시켜",
    "시켰",
)
_ENDINGS = "|".join(sorted(map(re.escape, PARTICLES + VERB_STARTS), key=len, reverse=True))
_HANGUL = f"[{SYLLABLES}]"
_JOINED = "[-·_/]"  # joiners that glue two words into one compound


@lru_cache(maxsize=4096)
def term_pattern(term: str) -> re.Pattern[str]:
    """The compiled pattern of ``term`` as a word of its own (see the module docs)."""
    words = term.split()
    body = r"\s+".join(re.escape(w) for w in words)
    before = [f"(?<!{_HANGUL})", f"(?<![{SYLLABLES}A-Za-z0-9]{_JOINED})"]
    if words and words[0][:1].isascii() and words[0][:1].isalnum():
        before.append("(?<![A-Za-z0-9])")
    last = words[-1][-1:] if words else ""
    tail = f"(?:(?=(?:{_ENDINGS}))|(?!{_HANGUL}))"
    if last.isascii() and last.isalnum():
        tail += "(?![A-Za-z0-9])"
    return re.compile("".join(before) + f"(?:{body})" + tail)


def find_term(text: str, term: str) -> list[tuple[int, int]]:
    """Spans where ``term`` occurs in ``text`` as a word of its own, in order."""
    if not text or not term.strip():
        return []
    return [m.span() for m in term_pattern(term.strip()).finditer(text)]


def count_term(text: str, term: str) -> int:
    """How often ``term`` occurs in ``text`` as a word of its own."""
    return len(find_term(text, term))


def has_term(text: str, term: str) -> bool:
    if not text or not term.strip():
        return False
    return term_pattern(term.strip()).search(text) is not None
