"""English words: the one light stemmer, the tokenizer built on it, and "does this English
text use that term" (inflected forms count).

- :func:`stem`: a light, deterministic suffix stemmer (plural, -ing, -ed, -ly): what the
  English BM25 index and queries are tokenised with;
- :func:`tokenize_en`: English (and the Latin parts of Korean) text -> stemmed content words;
- :func:`root`: :func:`stem` plus a few derivational endings (-ation, -ment, -er, a final
  -e), so "aligned" / "alignment" / "align" and "pruned" / "pruning" / "prune" share a root;
- :func:`uses_term`: does a text use a term, word by word, in any inflected form of the
  same roots ("Models" == "model", "pruned" == "pruning"); word order is kept.
"""

from __future__ import annotations

import re
from functools import lru_cache

_EN_WORD = re.compile(r"[a-z0-9]+")
THOUSANDS = re.compile(r"(?<=\d),(?=\d{3})")  # 12,000 -> 12000
EN_STOPWORDS = frozenset(
    """
a an and are as at be been being but by can could did do does doing done for from had has have
having how i if in into is it its itself may might more most no nor not of on or our over per same
so such than that the their them then there these they this those through to too under up us very
via was we were what when where which while who whom whose why will with within would you your also
each other both between about after before during only own further here again any all few some s t
using use used based new
""".split()  # noqa: SIM905
)


@lru_cache(maxsize=262144)
def stem(word: str) -> str:
    """A light, deterministic English suffix stemmer (plural, -ing, -ed, -ly) of a lower-case
    word: ``"agents"`` -> ``"agent"``, ``"improved"`` -> ``"improv"``."""
    if len(word) <= 3 or word.isdigit():
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "xes", "ches", "shes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    if word.endswith("ing") and len(word) > 5:
        word = word[:-3]
    elif word.endswith("ed") and len(word) > 4 or word.endswith("ly") and len(word) > 5:
        word = word[:-2]
    return word


def tokenize_en(text: str) -> list[str]:
    """English (and the Latin parts of Korean) text -> stemmed content words."""
    text = (text or "").lower()
    text = THOUSANDS.sub("", text)
    return [stem(w) for w in _EN_WORD.findall(text) if w not in EN_STOPWORDS]


_DERIVATIONAL = ("ation", "ment", "er")


@lru_cache(maxsize=65536)
def root(word: str) -> str:
    """:func:`stem`, then one derivational ending and a final -e: the forms of one word
    ("alignment", "aligned", "aligning") share a root; a short word is left alone."""
    w = stem(word.lower())
    for suffix in _DERIVATIONAL:
        if w.endswith(suffix) and len(w) - len(suffix) >= 4:
            w = w[: -len(suffix)]
            break
    if w.endswith("e") and len(w) >= 4:
        w = w[:-1]
    return w


def roots(text: str) -> list[str]:
    """The roots of every word of ``text``, in order (words split at anything not a letter
    or digit, so "vision-language" is two words)."""
    return [root(w) for w in _EN_WORD.findall((text or "").lower())]


def content_roots(text: str) -> list[str]:
    """The roots of the content words of ``text`` (stop words dropped, 12,000 -> 12000)."""
    text = re.sub(r"(?<=\d),(?=\d{3})", "", (text or "").lower())
    return [root(w) for w in _EN_WORD.findall(text) if w not in EN_STOPWORDS]


def uses_term(term: str, text: str) -> bool:
    """True when ``text`` contains the words of ``term`` next to each other and in order,
    each in any form of the same root: "Diffusion Models" is used by "a diffusion model",
    "Alignment" by "pixel-aligned", "pruning" by "pruned"; "Adaptation" is not used by
    "adaptive" (a different word)."""
    want = roots(term)
    if not want:
        return True
    have = roots(text)
    n = len(want)
    return any(have[i : i + n] == want for i in range(len(have) - n + 1))
