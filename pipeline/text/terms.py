"""Latin-script terms inside Korean text, and the digests' own ``한국어 용어(English Term)``
pairs (mined for the glossary)."""

from __future__ import annotations

import re

from .hangul import SYLLABLES, has_hangul
from .urls import blank_urls

# one Latin token: letters/digits joined by - + . ' / & _ ; must contain a letter (checked later)
_LATIN_TOKEN = r"[A-Za-z0-9](?:[A-Za-z0-9]|[-+.'’/&_](?=[A-Za-z0-9]))*\+*"
_LATIN_RUN = re.compile(rf"(?<![A-Za-z0-9]){_LATIN_TOKEN}(?: {_LATIN_TOKEN})*")
_HAS_LETTER = re.compile(r"[A-Za-z]")
_NUMBER_ONLY = re.compile(r"^[0-9.,]+[xX%]?$")


def english_terms(text: str) -> list[str]:
    """Latin-script terms written inside Korean text, in order of appearance, deduplicated.

    ``"LoLDU는 LDU 분해와 Output Length Score를"`` -> ``["LoLDU", "LDU", "Output Length Score"]``.
    URLs and bare numbers are skipped.
    """
    clean = blank_urls(text or "")
    out: list[str] = []
    seen: set[str] = set()
    for m in _LATIN_RUN.finditer(clean):
        term = m.group(0).strip(" .'’/&_-")
        if not term or not _HAS_LETTER.search(term) or _NUMBER_ONLY.match(term):
            continue
        if term.lower() not in seen:
            seen.add(term.lower())
            out.append(term)
    return out


# Korean words (Hangul, possibly hyphenated or with Latin/digits inside) right before "(English)"
_PAIR = re.compile(rf"((?:[\w\-·]+ ){{0,5}}[\w\-·]*[{SYLLABLES}])\(([A-Za-z][^()\n]{{0,80}})\)")
# a word ending like this is a particle / verb form: the term starts after it
_BREAK_ENDINGS = (
    "은",
    "는",
    "을",
    "를",
    "에",
    "에서",
    "으로",
    "로",
    "와",
    "과",
    "도",
    "만",
    "의",
    "하고",
    "하며",
    "하여",
    "해",
    "고",
    "며",
    "서",
    "면",
    "지만",
    "한",
    "된",
    "하는",
    "되는",
    "인한",
    "위한",
    "통한",
    "대한",
    "있는",
    "없는",
    "같은",
    "및",
    "또는",
    "즉",
    "특히",
    "통해",
    "위해",
    "인",
    "춘",
    "게",
    "운",
    "른",
    "큰",
    "던",
    "할",
    "될",
)
_KEEP_ENDINGS = ("적인", "적", "형", "화", "성", "기", "자", "델", "터", "링", "닝", "션")
_STOP_WORDS = {
    "이",
    "그",
    "이를",
    "이는",
    "또한",
    "그리고",
    "특히",
    "즉",
    "및",
    "또는",
    "새로운",
    "기존의",
    "다양한",
    "여러",
    "이러한",
    "해당",
    "본",
    "각",
    "모든",
    "통해",
    "위해",
    "기반으로",
}


def _en_words(en: str) -> list[str]:
    return [w for w in re.split(r"[\s\-]+", en) if w]


def mine_term_pairs(text: str) -> list[tuple[str, str]]:
    """Every ``한국어 용어(English Term)`` pair written in ``text``, in order (duplicates kept,
    so callers can count).

    ``미세 조정(Parameter-Efficient Fine-Tuning; PEFT)`` -> ``("미세 조정", "Parameter-Efficient
    Fine-Tuning")``; the Korean term has about as many words as the English one and starts after
    particles and verb forms.  Junk (sentences, numbers, lone acronyms longer than the term,
    mixed scripts) is skipped.
    """
    pairs: list[tuple[str, str]] = []
    for m in _PAIR.finditer(text or ""):
        en = _clean_english(m.group(2))
        if en is None or _is_acronym(en):  # a lone acronym is no glossary rendering
            continue
        words = m.group(1).split(" ")
        window = min(len(_en_words(en)) + 1, 5)
        taken = words[-window:]
        # the term starts after the last word that is a particle / verb form / filler
        start = 0
        for i, w in enumerate(taken[:-1]):
            if _is_break(w):
                start = i + 1
        if start == 0 and len(words) > len(taken) and not _is_break(words[-len(taken) - 1]):
            continue  # the term may begin further left: boundary unknown, skip
        ko = " ".join(taken[start:]).strip("-· ")
        if _good_pair(ko, en):
            pairs.append((ko, en))
    return pairs


def _is_break(word: str) -> bool:
    return word in _STOP_WORDS or (word.endswith(_BREAK_ENDINGS) and not word.endswith(_KEEP_ENDINGS))


def _clean_english(raw: str) -> str | None:
    en = raw.strip()
    # "Large Language Models; LLMs" / "Mixture-of-Experts, MoE" -> the spelled-out form
    for sep in (";", ","):
        if sep in en:
            first, rest = en.split(sep, 1)
            en = first.strip() if not _is_acronym(first.strip()) else rest.strip() or first.strip()
    if has_hangul(en) or "http" in en or "=" in en or not _HAS_LETTER.search(en):
        return None
    if en.lower().startswith(("e.g", "i.e", "예", "see ", "cf")):
        return None
    if len(en.split()) > 6 or len(en) > 60:
        return None
    return en


def _is_acronym(s: str) -> bool:
    return bool(re.fullmatch(r"[A-Z0-9][A-Za-z0-9\-]{0,9}", s)) and sum(c.isupper() for c in s) >= 2


def _good_pair(ko: str, en: str) -> bool:
    if not ko or not has_hangul(ko) or len(ko.replace(" ", "")) < 2 or len(en) < 3:
        return False
    if not re.fullmatch(rf"[{SYLLABLES}A-Za-z0-9\-· ]+", ko):
        return False
    if ko.split()[0] in _STOP_WORDS:
        return False
    ko_n = len(ko.split())
    # Korean rarely needs fewer words than its English gloss, and a multi-word Korean term
    # glossed by one plain word ("scheme", "latent") is a misaligned match
    return ko_n >= len(en.split()) and not (ko_n >= 2 and len(_en_words(en)) == 1)
