"""Known word forms: a Korean query analysed from the corpus's own analyses, Kiwi only as
the fallback.

Loading Kiwi costs a cold process about 2 s and 330 MB, more than the rest of a search.  But
``digest index`` analyses every Korean text anyway, so it records, for each word form
(a whitespace-separated eojeol, punctuation at its ends stripped: ``(모델을),`` -> ``모델을``)
of the texts it analyses, the content morphemes Kiwi gave it (``lexical.py``'s: each
morpheme belongs to the form its first character falls in).  A form analysed differently in
different places (Kiwi weighs the context) is *ambiguous* and never answers.  The forms live
in the lexicon (``lexical_tokens.py``, table ``forms``), keyed by the analyser, and are
written with the texts' tokens: only texts analysed now add forms (texts analysed before the
table existed add none until they are analysed again, e.g. after a Kiwi upgrade).

At query time (:func:`lexical.tokenize_ko_query`), a Korean query whose every Hangul-bearing
form is known and unambiguous is analysed from the table -- one indexed SQLite lookup, no
Kiwi: its forms' morphemes in order, then its Latin words, as :func:`lexical.tokenize_ko`
orders them.  Any other query is analysed by Kiwi, exactly as before.  The Korean retriever
registers its lexicon's forms (:func:`use_known_forms`); the forms are Kiwi's analyses, not
the corpus's content, so any registered lexicon of the same analyser answers alike.

The tokens are the ones the index holds for those forms; Kiwi analysing the query itself
can differ where it weighs the neighbouring words otherwise (a form seen once, a short
keyword query): on the seeds, 30 of the 710 two-to-four-word runs of the development
questions the table answers, e.g. ``지도 미세`` (the table ``지도``, Kiwi ``지`` + ``도``).
"""

from __future__ import annotations

import bisect
import logging
import re
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, NamedTuple

from ..text.hangul import has_hangul

if TYPE_CHECKING:
    from .lexical_tokens import Lexicon

log = logging.getLogger(__name__)

_WORD = re.compile(r"\S+")

# a form -> its content morphemes; None: ambiguous (analysed differently in different places)
Forms = dict[str, "tuple[str, ...] | None"]


class Analysis(NamedTuple):
    """What an analyser that records forms returns for a batch of texts (``Lexicon.analyse``)."""

    tokens: list[list[str]]  # each text's tokens
    forms: Forms  # the word forms of the batch's texts, merged (:func:`merge`)


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
    """The Hangul-bearing word forms of one analysed text and their content morphemes.
    ``morphemes``: every token of the analysis as (start, length, form), form None for one
    that is not a content morpheme.  A morpheme belongs to the form its start falls in; a
    form a token reaches out of (across a space) is ambiguous, and a text with a token that
    starts in whitespace gives no forms at all (its assignment would be a guess)."""
    spans = [(m.start(), m.end()) for m in _WORD.finditer(text)]
    starts = [s for s, _ in spans]
    per: list[list[str]] = [[] for _ in spans]
    spread: set[int] = set()  # forms a token crosses the boundary of
    for start, length, form in morphemes:
        i = bisect.bisect_right(starts, start) - 1
        if i < 0 or start >= spans[i][1]:
            return {}
        if start + length > spans[i][1]:
            spread.update(range(i, bisect.bisect_left(starts, start + length)))
        if form is not None:
            if any(c.isspace() for c in form):
                spread.add(i)
            per[i].append(form)
    out: Forms = {}
    for i, (s, e) in enumerate(spans):
        form = normalise(text[s:e])
        if has_hangul(form):
            _add(out, form, None if i in spread else tuple(per[i]))
    return out


def _add(forms: Forms, form: str, tokens: tuple[str, ...] | None) -> None:
    if form not in forms:
        forms[form] = tokens
    elif forms[form] != tokens:
        forms[form] = None


def merge(into: Forms, forms: Forms) -> Forms:
    """Add ``forms`` to ``into``: a form with two different analyses becomes ambiguous."""
    for form, tokens in forms.items():
        _add(into, form, tokens)
    return into


def encode(tokens: tuple[str, ...] | None) -> str | None:
    """A form's morphemes as stored (a space between two; None: ambiguous)."""
    return None if tokens is None else " ".join(tokens)


def decode(stored: str | None) -> list[str] | None:
    return None if stored is None else stored.split(" ") if stored else []


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
        """The stored analyses of those of ``forms`` the lexicon knows (None: ambiguous)."""
        try:
            return self.lexicon.known_forms(self.analyser, forms)
        except sqlite3.Error as exc:  # closed, or written by an older version (no table)
            log.debug("known forms unavailable (%s): Kiwi analyses the query", exc)
            return {}

    def morphemes(self, text: str) -> list[str] | None:
        """The content morphemes of ``text`` from the table: None unless every Hangul-bearing
        form of it is known and unambiguous."""
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
