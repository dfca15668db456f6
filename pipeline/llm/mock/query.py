"""The mock's query translation (``prompts/query_translate.md``): a ``<query>`` element and the
collection's own renderings of its words in ``<terms>`` (``source => rendering`` lines).

A Korean query becomes Hangul-free English the way the mock translates sections (its small
lexicon, else romanisation), with the given renderings applied first; an English query gets
the renderings substituted.  Deterministic, and it knows only what the request tells it."""

from __future__ import annotations

import json
import re

from ...text.escape import unescape_data
from ...text.hangul import has_hangul
from .lexicon import mock_translate, parse_glossary

QUERY = re.compile(r"<query\b[^>]*>(.*?)</query>", re.S)
_TERMS = re.compile(r"<terms>(.*?)</terms>", re.S)


def query_reply(user: str) -> str:
    """``{"translation": ..., "alternatives": []}`` for the request's ``<query>``."""
    m = QUERY.search(user)
    query = unescape_data(m.group(1)).strip() if m else ""
    tm = _TERMS.search(user)
    terms = parse_glossary(tm.group(1)) if tm else []
    if has_hangul(query):
        translation = mock_translate(query, terms)
    else:
        translation = query
        for source, rendering in terms:
            translation = re.sub(rf"(?i)\b{re.escape(source)}\b", rendering, translation)
    return json.dumps({"translation": " ".join(translation.split()), "alternatives": []}, ensure_ascii=False)
