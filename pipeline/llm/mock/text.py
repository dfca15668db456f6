"""Text helpers shared by the mock's task handlers: terms, numbers, sentences, overlap."""

from __future__ import annotations

import re

from ...text.hangul import SYLLABLES

LATIN_TERM = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-.+/][A-Za-z0-9]+)*")
NUMBER = re.compile(r"(?<![\w.])[-+]?\d[\d,]*(?:\.\d+)?(?:\s?%|[KMBT]\b|x\b|×)?")
HANGUL_WORD = re.compile(f"[{SYLLABLES}]{{2,}}")

STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "of",
        "to",
        "in",
        "on",
        "for",
        "with",
        "by",
        "from",
        "at",
        "as",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "this",
        "that",
        "these",
        "those",
        "it",
        "its",
        "into",
        "than",
        "then",
        "there",
        "their",
        "they",
        "them",
        "we",
        "our",
        "you",
        "your",
        "he",
        "she",
        "his",
        "her",
        "which",
        "who",
        "whom",
        "what",
        "when",
        "where",
        "why",
        "how",
        "does",
        "do",
        "did",
        "done",
        "has",
        "have",
        "had",
        "not",
        "no",
        "yes",
        "can",
        "could",
        "should",
        "would",
        "will",
        "may",
        "might",
        "must",
        "also",
        "such",
        "more",
        "most",
        "less",
        "many",
        "much",
        "very",
        "via",
        "using",
        "use",
        "used",
        "uses",
        "based",
        "new",
        "paper",
        "papers",
        "study",
        "model",
        "models",
        "method",
        "methods",
        "approach",
        "approaches",
        "result",
        "results",
        "show",
        "shows",
        "shown",
        "propose",
        "proposed",
        "proposes",
        "present",
        "presents",
        "introduce",
        "introduces",
        "work",
        "works",
        "about",
        "any",
        "all",
        "each",
        "other",
        "some",
        "same",
        "both",
        "only",
        "over",
        "under",
        "between",
        "within",
        "without",
        "across",
        "per",
        "one",
        "two",
        "three",
        "first",
        "second",
        "et",
        "al",
        "i",
        "e",
        "g",
        "vs",
        "tell",
        "me",
        "please",
        "explain",
        "describe",
        "list",
        "give",
        "find",
        "say",
        "said",
        "if",
        "so",
        "up",
        "out",
        "just",
        "like",
        "well",
        "way",
        "ways",
        "data",
    ]
)

_PARTICLES = (
    "에서는",
    "으로",
    "에서",
    "에게",
    "까지",
    "부터",
    "보다",
    "을",
    "를",
    "이",
    "가",
    "은",
    "는",
    "의",
    "에",
    "로",
    "와",
    "과",
    "도",
    "만",
)


def latin_terms(text: str) -> list[str]:
    """Latin-script terms in order of first appearance, without stopwords or duplicates."""
    seen: dict[str, str] = {}
    for m in LATIN_TERM.finditer(text or ""):
        term = m.group(0).strip(".-+/")
        key = term.lower()
        if len(term) < 2 or key in STOPWORDS or key in seen:
            continue
        seen[key] = term
    return list(seen.values())


def salient_terms(text: str) -> list[str]:
    """Latin terms that look like names: an uppercase letter after the first, or a digit."""
    return [
        t
        for t in latin_terms(text)
        if any(c.isdigit() for c in t) or any(c.isupper() for c in t[1:]) or (t[0].isupper() and len(t) > 3)
    ]


def numbers(text: str) -> list[str]:
    seen: list[str] = []
    for m in NUMBER.finditer(text or ""):
        n = m.group(0).strip()
        if n not in seen and any(c.isdigit() for c in n):
            seen.append(n)
    return seen


def hangul_stems(text: str) -> list[str]:
    out = []
    for w in HANGUL_WORD.findall(text or ""):
        for p in _PARTICLES:
            if w.endswith(p) and len(w) - len(p) >= 2:
                w = w[: -len(p)]
                break
        out.append(w)
    return out


def content_terms(text: str) -> set[str]:
    """Lowercased terms used for lexical overlap: Latin words, numbers, Hangul stems."""
    terms = {t.lower() for t in latin_terms(text)}
    terms |= {n.rstrip("%").replace(",", "") for n in numbers(text)}
    terms |= set(hangul_stems(text))
    return {t for t in terms if t}


def sentences(text: str) -> list[str]:
    text = " ".join((text or "").split())
    parts = re.split(r"(?<=[.!?。])\s+(?=[^\s])|(?<=다\.)\s*", text)
    return [p.strip() for p in parts if p and len(p.strip()) > 3]
