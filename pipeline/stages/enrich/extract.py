"""Deterministic metadata: no LLM, so every entry gets useful fields even offline.

arXiv id, date, votes and authors come from the parsed entry; links are sorted into
code / project / dataset URLs; every number is kept with the words around it; the
English terms written inside the Korean text are listed.  The same number helpers
check that a key result reported by the LLM really occurs in the source text.
"""

from __future__ import annotations

from ...records import Entry, Metadata, NumberMention
from ...text.numbers import extract_numbers
from ...text.terms import english_terms
from ...text.urls import find_urls, normalize_urls, sort_urls

# -- the whole deterministic record -----------------------------------------------------

DETERMINISTIC_FIELDS = (
    "arxiv_id",
    "date",
    "votes",
    "authors",
    "code_urls",
    "project_urls",
    "dataset_urls",
    "numbers",
    "english_terms",
)


def entry_text(entry: Entry) -> str:
    return "\n".join(s.text for s in entry.sections)


def extract_metadata(entry: Entry) -> Metadata:
    """The deterministic part of an entry's metadata (``llm_status="skipped"``)."""
    text = entry_text(entry)
    urls = list(entry.links)
    for s in entry.sections:
        urls.extend(u for u in find_urls(s.text) if u not in urls)
    # links stored by an older parse may carry glued text: read each as the extractor would
    by_kind = sort_urls(normalize_urls(urls))
    numbers: list[NumberMention] = []
    for s in entry.sections:
        numbers.extend(extract_numbers(s.text))
    terms: list[str] = []
    for t in english_terms(text):
        if t not in terms:
            terms.append(t)
    meta = Metadata(
        entry_id=entry.id,
        arxiv_id=entry.arxiv_id,
        date=entry.date,
        votes=entry.votes,
        authors=list(entry.authors),
        code_urls=by_kind["code"],
        project_urls=by_kind["project"],
        dataset_urls=by_kind["dataset"],
        numbers=numbers,
        english_terms=terms,
    )
    meta.field_sources = {
        f: "deterministic" for f in DETERMINISTIC_FIELDS if getattr(meta, f) not in (None, [])
    }
    return meta
