"""Query bridging: a Korean query reaches the English side of the index, and an English
query the Korean side, through word associations the corpus itself provides (the table
``bridge_table.py`` mines at index time from translations, the translation memory, the
glossary and the digests' own ``한국어(English)`` glosses).

At query time :meth:`Bridge.expand` turns a Korean query into weighted English index terms
(and an English text for the embedding model), and an English query into weighted Korean
terms.  Nothing here is written for particular questions: a word the corpus never
translates is not bridged (an LLM can translate the query then: ``query_translation.py``).
Queries are analysed with :func:`lexical.tokenize_ko_query` (the corpus's known word forms,
Kiwi only for a form they do not hold).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from ..settings import Settings
from ..store.layout import OutDir
from ..text.hangul import has_hangul
from .base import RetrieverQuery
from .bridge_table import EN_WORD, BridgeTable
from .lexical import tokenize_en, tokenize_ko_query

log = logging.getLogger(__name__)


def load_bridge(settings: Settings) -> Bridge | None:
    """The table `digest index` built (None when bridging is off or the index predates it:
    a query never builds it, since reading commands do not write the output folder).  Its
    inputs are not re-read: like the index, it is as fresh as the last `digest index`."""
    if not settings.search.bridge:
        return None
    for path in sorted(OutDir(settings.out_dir).bridge_dir.glob("table-*.json")):
        try:
            return Bridge(BridgeTable.from_json(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("bridge table %s unreadable (%s): run `digest index`", path, exc)
    log.info("no query bridge in %s: run `digest index` to build it", settings.out_dir)
    return None


# -- expansion ---------------------------------------------------------------------------------


@dataclass
class Expansion:
    """A query rendered for the other side of the index."""

    terms: dict[str, float]  # index tokens of the other side, weighted 0..1
    text: str  # the same as words, for a text encoder ("" when nothing was bridged)
    bridged: list[str] = field(default_factory=list)  # the query words that found a rendering


class Bridge:
    def __init__(self, table: BridgeTable) -> None:
        self.table = table
        self._phrases_ko = [(re.sub(r"\s+", "", k), e, w) for k, e, w, _ in table.phrases]

    def english_of(self, token: str) -> set[str]:
        """The English index tokens a Korean token translates to."""
        return {e for e, _ in self.table.ko_en.get(token, ())}

    def hints(self, query: str, limit: int = 12) -> list[tuple[str, str]]:
        """How the corpus renders the query's words (``source => rendering`` pairs for the
        query-translation prompt): glossed phrases first, then the best word translations."""
        out: list[tuple[str, str]] = []
        if has_hangul(query):
            compact = re.sub(r"\s+", "", query)
            out += [
                (k, e) for k, e, w, _ in self.table.phrases if w >= 0.5 and re.sub(r"\s+", "", k) in compact
            ]
            for token in dict.fromkeys(tokenize_ko_query(query)):
                row = self.table.ko_en.get(token)
                if row and has_hangul(token):
                    out.append((token, self.table.surface.get(row[0][0], row[0][0])))
        else:
            lowered = " ".join(query.lower().split())
            out += [(e, k) for k, e, w, _ in self.table.phrases if w >= 0.5 and e.lower() in lowered]
            for word in dict.fromkeys(EN_WORD.findall(query)):
                stems = tokenize_en(word)
                row = self.table.en_ko.get(stems[0]) if len(stems) == 1 else None
                if row:
                    out.append((word, row[0][0]))
        return list(dict.fromkeys(out))[:limit]

    def to_english(self, query: str) -> Expansion:
        """A Korean query as weighted English tokens: its Latin words as they are, each Korean
        word's translations (weighted by their probability), the glossed phrases it contains."""
        terms: dict[str, float] = {}
        words: list[str] = []
        bridged: list[str] = []

        def add(token: str, weight: float) -> None:
            terms[token] = max(terms.get(token, 0.0), round(weight, 4))

        compact = re.sub(r"\s+", "", query)
        for ko, en, weight in self._phrases_ko:
            if ko and ko in compact:
                for token in tokenize_en(en):
                    add(token, weight)
                words.append(en)
                bridged.append(ko)
        for token in tokenize_ko_query(query):
            if not has_hangul(token):
                continue
            row = self.table.ko_en.get(token)
            if not row:
                continue
            bridged.append(token)
            for english, p in row:
                add(english, p)
            words.append(self.table.surface.get(row[0][0], row[0][0]))
        for token in tokenize_en(query):
            add(token, 1.0)
        latin = " ".join(EN_WORD.findall(query))
        text = " ".join([*dict.fromkeys(words), latin]).strip() if words else ""
        return Expansion(terms, text, bridged)

    def to_korean(self, query: str) -> Expansion:
        """An English query as weighted Korean tokens: its words as they are (the Korean text
        keeps many Latin terms), and each word's Korean renderings."""
        terms: dict[str, float] = {t: 1.0 for t in tokenize_ko_query(query)}
        bridged: list[str] = []
        lowered = " ".join(query.lower().split())
        for _, en, weight, tokens in self.table.phrases:
            if en.lower() in lowered:
                for token in tokens:
                    terms[token] = max(terms.get(token, 0.0), weight)
                bridged.append(en)
        for token in tokenize_en(query):
            for korean, p in self.table.en_ko.get(token, []):
                terms[korean] = max(terms.get(korean, 0.0), round(p, 4))
                if token not in bridged:
                    bridged.append(token)
        return Expansion(terms, "", bridged)


# -- the query each side searches with -------------------------------------------------------------


@dataclass
class QueryPlan:
    """What each side of the index is asked: ``sides["en"]`` / ``sides["ko"]``."""

    sides: dict[str, RetrieverQuery]
    other_share: float | None = None  # share of a Korean query the English side understands
    bridged: list[str] = field(default_factory=list)


def plan_query(
    bridge: Bridge | None, query: str, lang: str, translation: Sequence[str] | str | None = None
) -> QueryPlan:
    """The query for each side.  The query's own language searches with the query; the other
    side with the bridge's rendering, merged with ``translation`` (an LLM's, when given: the
    translation first, then alternative wordings)."""
    own = RetrieverQuery(query)
    texts = [translation] if isinstance(translation, str) else list(translation or [])
    texts = [t.strip() for t in texts if t and t.strip()]
    if lang == "ko":
        tokens = tokenize_ko_query(query)
        if bridge is not None:
            exp = bridge.to_english(query)
            terms, text, bridged = dict(exp.terms), exp.text, exp.bridged
        else:
            terms, text, bridged = {t: 1.0 for t in tokenize_en(query)}, "", []
        text = text or " ".join(EN_WORD.findall(query))
        understood = sum(1 for t in tokens if not has_hangul(t) or t in bridged)
        share = understood / len(tokens) if tokens else 0.0
        for t in texts:
            for token in tokenize_en(t):
                terms[token] = 1.0
        if texts:
            text, share = texts[0], 1.0
        other = RetrieverQuery(text, terms)
        return QueryPlan({"ko": own, "en": other}, share if bridge or texts else None, bridged)
    if bridge is None and not texts:
        return QueryPlan({"en": own, "ko": own})
    exp = (
        bridge.to_korean(query)
        if bridge is not None
        else Expansion({t: 1.0 for t in tokenize_ko_query(query)}, "")
    )
    terms = dict(exp.terms)
    for t in texts:
        for token in tokenize_ko_query(t):
            terms[token] = 1.0
    return QueryPlan({"en": own, "ko": RetrieverQuery(query, terms)}, None, exp.bridged)
