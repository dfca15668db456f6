"""Korean-text helpers shared by the stages: Hangul detection, the Latin-script terms
written inside Korean text, numbers, and the digests' own ``한국어 용어(English Term)`` pairs."""

from __future__ import annotations

import re

# Hangul syllables, jamo and compatibility jamo
_HANGUL = re.compile(r"[\u1100-\u11ff\u3130-\u318f\ua960-\ua97f\uac00-\ud7a3\ud7b0-\ud7ff]")
_URL = re.compile(r"https?://\S+|www\.\S+")
# one Latin token: letters/digits joined by - + . ' / & _ ; must contain a letter (checked later)
_LATIN_TOKEN = r"[A-Za-z0-9](?:[A-Za-z0-9]|[-+.'’/&_](?=[A-Za-z0-9]))*\+*"
_LATIN_RUN = re.compile(rf"(?<![A-Za-z0-9]){_LATIN_TOKEN}(?: {_LATIN_TOKEN})*")
_HAS_LETTER = re.compile(r"[A-Za-z]")
_NUMBER_ONLY = re.compile(r"^[0-9.,]+[xX%]?$")


def has_hangul(text: str) -> bool:
    return bool(text) and _HANGUL.search(text) is not None


def hangul_ratio(text: str) -> float:
    """Share of Hangul among the letters of ``text`` (0.0 for no letters)."""
    letters = [c for c in text or "" if c.isalpha()]
    if not letters:
        return 0.0
    return sum(1 for c in letters if _HANGUL.match(c)) / len(letters)


def english_terms(text: str) -> list[str]:
    """Latin-script terms written inside Korean text, in order of appearance, deduplicated.

    ``"LoLDU는 LDU 분해와 Output Length Score를"`` -> ``["LoLDU", "LDU", "Output Length Score"]``.
    URLs and bare numbers are skipped.
    """
    clean = _URL.sub(" ", text or "")
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


# ---------------------------------------------------------------- numbers

_NUM = re.compile(r"(?<![A-Za-z0-9.])(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?")
# in English output a number may be glued to a name ("Mamba2" for "마마바2")
_OUT_NUM = re.compile(r"(?<![0-9.,])(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?")
_KO_UNIT = {"만": 1e4, "억": 1e8, "조": 1e12, "천": 1e3}
_ORDINAL_AFTER = re.compile(r"^\s*(번째|위|등|차|회차|세대|번)")
_EN_SCALE = re.compile(r"^\s*(thousand|k\b|million|m\b|billion|b\b|trillion|t\b)", re.IGNORECASE)
_EN_SCALE_VALUE = {
    "thousand": 1e3,
    "k": 1e3,
    "million": 1e6,
    "m": 1e6,
    "billion": 1e9,
    "b": 1e9,
    "trillion": 1e12,
    "t": 1e12,
}
_WORDS = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "single": 1,
    "double": 2,
    "twice": 2,
    "triple": 3,
    "half": 0.5,
    "dozen": 12,
    "hundred": 100,
    "thousand": 1000,
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
}


def source_numbers(text: str) -> list[tuple[str, set[float]]]:
    """Numbers of a Korean text: ``(as written, accepted values)``.

    ``730만`` accepts 730, 7,300,000 and 7.3 (as in "7.3 million"); ordinals such as ``2번째``
    or ``1위`` are skipped (they are often written as words: "second", "first").
    """
    out: list[tuple[str, set[float]]] = []
    clean = _URL.sub(" ", text or "")
    carry: tuple[int, float] | None = None  # "55만8000": (where 8000 starts, 558000)
    for m in _NUM.finditer(clean):
        after = clean[m.end() :]
        if _ORDINAL_AFTER.match(after):
            continue
        value = _to_float(m)
        accepted = {value}
        if carry is not None and carry[0] == m.start():
            accepted |= _scaled(carry[1])
        carry = None
        unit = after[:1]
        if unit in _KO_UNIT:
            full = value * _KO_UNIT[unit]
            accepted |= _scaled(full)
            rest = re.match(r"\s*", after[1:])
            nxt = _NUM.match(clean, m.end() + 1 + (rest.end() if rest else 0))
            if nxt is not None:
                combined = full + _to_float(nxt)
                accepted |= _scaled(combined)
                carry = (nxt.start(), combined)
        out.append((m.group(0), accepted))
    return out


def _scaled(value: float) -> set[float]:
    return {value, value / 1e3, value / 1e6, value / 1e9, value / 1e12}


def output_numbers(text: str) -> set[float]:
    """Every number in an English text, with scales applied both ways ("7.3 million" -> 7.3 and
    7,300,000) and small number words ("two", "twice")."""
    found: set[float] = set()
    for m in _OUT_NUM.finditer(text or ""):
        value = _to_float(m)
        found.add(value)
        s = _EN_SCALE.match(text[m.end() :])
        if s:
            found.add(value * _EN_SCALE_VALUE[s.group(1).lower()])
    for word in re.findall(r"[A-Za-z]+", text or ""):
        w = word.lower()
        if w in _WORDS:
            found.add(float(_WORDS[w]))
    return found


def missing_numbers(source: str, translation: str) -> list[str]:
    """Numbers of ``source`` that the translation does not contain (``1,000`` == ``1000``)."""
    have = output_numbers(translation)
    missing: list[str] = []
    for written, accepted in source_numbers(source):
        if not any(_close(a, h) for a in accepted for h in have) and written not in missing:
            missing.append(written)
    return missing


def _to_float(m: re.Match[str]) -> float:
    whole = m.group(1).replace(",", "")
    frac = m.group(2)
    return float(f"{whole}.{frac}") if frac else float(whole)


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))


# ---------------------------------------------------------------- term pairs

# Korean words (Hangul, possibly hyphenated or with Latin/digits inside) right before "(English)"
_PAIR = re.compile(r"((?:[\w\-·]+ ){0,5}[\w\-·]*[\uac00-\ud7a3])\(([A-Za-z][^()\n]{0,80})\)")
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
    if not re.fullmatch(r"[\uac00-\ud7a3A-Za-z0-9\-· ]+", ko):
        return False
    if ko.split()[0] in _STOP_WORDS:
        return False
    ko_n = len(ko.split())
    # Korean rarely needs fewer words than its English gloss, and a multi-word Korean term
    # glossed by one plain word ("scheme", "latent") is a misaligned match
    return ko_n >= len(en.split()) and not (ko_n >= 2 and len(_en_words(en)) == 1)
