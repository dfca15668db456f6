"""Known word forms: a Korean query analysed from the corpus's own analyses, Kiwi only as
the fallback.

Loading Kiwi costs a cold process about 2 s and 330 MB, more than the rest of a search.  But
``digest index`` analyses every Korean text anyway, so it counts, for each word form
(a whitespace-separated eojeol, punctuation at its ends stripped: ``(모델을),`` -> ``모델을``)
of the texts it analyses, how often Kiwi gave it each analysis: its content morphemes
(``lexical.py``'s: each morpheme belongs to the form its first character falls in), or none
of its own when a token crosses its boundary.  Kiwi weighs the context, so one form can be
analysed differently in different places; a form *answers* with its most frequent analysis
when that holds at least :data:`MIN_SHARE` of the form's occurrences (and is no tie), and
not otherwise.  The counts live in the lexicon (``lexical_tokens.py``, table
``form_analyses``), keyed by the analyser, and are added with the texts' tokens: only texts
analysed now count (texts analysed before the table existed add nothing until they are
analysed again, e.g. after a Kiwi upgrade).

At query time (:func:`lexical.tokenize_ko_query`), a Korean query whose every Hangul-bearing
form answers is analysed from the table -- one indexed SQLite lookup, no Kiwi: its forms'
morphemes in order, then its Latin words, as :func:`lexical.tokenize_ko` orders them.  Any
other query is analysed by Kiwi, exactly as before.  For BM25 the majority analysis is also
the one most of the indexed occurrences of the form hold, so it is a sound analysis of the
query.  The Korean retriever registers its lexicon's forms (:func:`use_known_forms`); the
forms are Kiwi's analyses, not the corpus's content, so any registered lexicon of the same
analyser answers alike.

The tokens are the ones the index holds for those forms; Kiwi analysing the query itself
can differ where it weighs the neighbouring words otherwise (a form seen once, a short
keyword query): on the seeds the table answers 790 of the 1,624 two-to-four-word runs of the
development questions (710 when a form had to be analysed one way everywhere) and 39 of them
differ from Kiwi's, e.g. ``지도 미세`` (the table ``지도``, Kiwi ``지`` + ``도``, neither a
content morpheme) or ``지식 증류의`` (``증류의`` seen once, its content morpheme ``증``).
"""

from __future__ import annotations

import bisect
import logging
import re
import sqlite3
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, NamedTuple

from ..text.hangul import has_hangul

if TYPE_CHECKING:
    from .lexical_tokens import Lexicon

log = logging.getLogger(__name__)

_WORD = re.compile(r"\S+")

MIN_SHARE = 0.8  # of a form's occurrences its most frequent analysis must hold to answer

# (a form, its content morphemes; None: a token crosses the form's boundary) -> occurrences
Forms = Counter[tuple[str, "tuple[str, ...] | None"]]
# a form's stored analyses -> their counts
Analyses = dict["tuple[str, ...] | None", int]

CROSSED = "-"  # the stored analysis of an occurrence a token crosses (an analysis has Hangul)


class Analysis(NamedTuple):
    """What an analyser that records forms returns for a batch of texts (``Lexicon.analyse``)."""

    tokens: list[list[str]]  # each text's tokens
    forms: Forms  # the word forms of the batch's texts, counted


def normalise(word: str) -> str:
    """A word form without the characters that are not letters or digits at its ends."""
    i, j = 0, len(word)
    while i < j and not word[i].isalnum():
        i += 1
    while j > i and not word[j - 1].isalnum():
        j -= 1
    return word[i:j]


def query_forms(text: str) -> list[str] | None:
    """The Hangul-bearing word forms of ``text``, in order (normalised); None when a word
    loses its Hangul to the normalising (a Hangul character that is no letter)."""
    out = []
    for m in _WORD.finditer(text):
        form = normalise(m.group(0))
        if has_hangul(form):
            out.append(form)
        elif has_hangul(m.group(0)):
            return None
    return out


def text_forms(text: str, morphemes: Iterable[tuple[int, int, str | None]]) -> Forms:
    """The Hangul-bearing word forms of one analysed text, each occurrence with its content
    morphemes, counted.  ``morphemes``: every token of the analysis as (start, length, form),
    form None for one that is not a content morpheme.  A morpheme belongs to the form its
    start falls in; an occurrence a token reaches out of (across a space) has no analysis of
    its own (None), and a text with a token that starts in whitespace gives no forms at all
    (its assignment would be a guess)."""
    spans = [(m.start(), m.end()) for m in _WORD.finditer(text)]
    starts = [s for s, _ in spans]
    per: list[list[str]] = [[] for _ in spans]
    spread: set[int] = set()  # forms a token crosses the boundary of
    for start, length, form in morphemes:
        i = bisect.bisect_right(starts, start) - 1
        if i < 0 or start >= spans[i][1]:
            return Counter()
        if start + length > spans[i][1]:
            spread.update(range(i, bisect.bisect_left(starts, start + length)))
        if form is not None:
            if any(c.isspace() for c in form):
                spread.add(i)
            per[i].append(form)
    out: Forms = Counter()
    for i, (s, e) in enumerate(spans):
        form = normalise(text[s:e])
        if has_hangul(form):
            out[form, None if i in spread else tuple(per[i])] += 1
    return out


def encode(tokens: tuple[str, ...] | None) -> str:
    """An analysis as stored: its morphemes with a space between two (:data:`CROSSED`: none
    of its own)."""
    return CROSSED if tokens is None else " ".join(tokens)


def decode(stored: str) -> tuple[str, ...] | None:
    return None if stored == CROSSED else tuple(stored.split(" ")) if stored else ()


def majority(analyses: Analyses) -> list[str] | None:
    """The analysis a form answers with: its most frequent one when that holds at least
    :data:`MIN_SHARE` of its occurrences and is no tie; else None (and None for one a token
    crosses)."""
    if not analyses:
        return None
    ranked = sorted(analyses.items(), key=lambda kv: kv[1], reverse=True)
    (top, n), rest = ranked[0], ranked[1:]
    if top is None or n < MIN_SHARE * sum(analyses.values()) or (rest and rest[0][1] == n):
        return None
    return list(top)


class KnownForms:
    """The forms one lexicon holds for one analyser (``lexical.analyser_id("ko")``, resolved
    at the first lookup); thread-safe (the lexicon is)."""

    def __init__(self, lexicon: Lexicon, analyser: str | Callable[[], str]) -> None:
        self.lexicon = lexicon
        self._analyser = analyser

    @cached_property
    def analyser(self) -> str:
        return self._analyser if isinstance(self._analyser, str) else self._analyser()

    def lookup(self, forms: Sequence[str]) -> dict[str, list[str] | None]:
        """What those of ``forms`` the lexicon knows answer with (None: no majority,
        :func:`majority`)."""
        try:
            counted = self.lexicon.form_analyses(self.analyser, forms)
        except sqlite3.Error as exc:  # closed, or written by an older version (no table)
            log.debug("known forms unavailable (%s): Kiwi analyses the query", exc)
            return {}
        return {form: majority(analyses) for form, analyses in counted.items()}

    def morphemes(self, text: str) -> list[str] | None:
        """The content morphemes of ``text`` from the table: None unless every Hangul-bearing
        form of it is known and has a majority analysis."""
        forms = query_forms(text)
        if forms is None:
            return None
        known = self.lookup(forms) if forms else {}
        out: list[str] = []
        for form in forms:
            tokens = known.get(form)
            if tokens is None:
                return None
            out.extend(tokens)
        return out


_registered: KnownForms | None = None
_lock = threading.Lock()


def use_known_forms(reader: KnownForms | None) -> None:
    """Make ``reader`` the forms Korean queries are analysed with (None: Kiwi alone).  The
    last opened Korean retriever registers its lexicon's."""
    global _registered
    with _lock:
        _registered = reader


def known_forms() -> KnownForms | None:
    return _registered
