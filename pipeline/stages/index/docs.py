"""The index documents: one per entry, from whatever stages have run, and its chunks.

English text: title + translated sections (the translation memory's rendering wins, as in
translate; an untranslated section without one contributes the English terms written inside
the Korean text),
the TL;DR and keywords.  Korean text: the source.  The English text is chunked by
``index.chunk_tokens``: lines, sentences for long lines, every chunk led by the title.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from ...llm.tokens import count_tokens, get_encoding
from ...records import Entry, IndexDoc, Metadata, SectionTranslation
from ...settings import Settings
from ...store.layout import OutDir
from ...text.memory import TranslationMemory, load_memory
from ...text.terms import english_terms

log = logging.getLogger(__name__)


def build_docs(
    entries: list[Entry],
    translations: list[SectionTranslation],
    metadata: list[Metadata],
    memory: TranslationMemory | None = None,
) -> list[IndexDoc]:
    """Assemble one document per entry from whatever stages have run."""
    by_section: dict[tuple[str, int], SectionTranslation] = {}
    for t in translations:
        if t.text.strip():
            by_section[(t.entry_id, t.index)] = t  # the last record wins
    meta = {m.entry_id: m for m in metadata}
    memory = memory or TranslationMemory()
    docs: list[IndexDoc] = []
    for e in entries:
        english_lines = [e.title]
        translated_lines: list[str] = []
        translated = 0
        for i, s in enumerate(e.sections):
            t = by_section.get((e.id, i))
            # the memory's pair wins over a model's translation, as in translate
            text = memory.lookup(s.text) or (t.text.strip() if t is not None else None)
            if text:
                translated += 1
                translated_lines.append(f"{s.label}: {text}" if s.label else text)
            else:  # untranslated: the English terms the Korean text already holds
                terms = english_terms(s.text)
                text = "; ".join(terms)
            if text:
                english_lines.append(f"{s.label}: {text}" if s.label else text)
        m = meta.get(e.id)
        if m is not None:
            if m.tldr:
                english_lines.append(f"Summary: {m.tldr}")
                translated_lines.append(f"Summary: {m.tldr}")
            if m.keywords:
                english_lines.append("Keywords: " + ", ".join(m.keywords))
        docs.append(
            IndexDoc(
                entry_id=e.id,
                arxiv_id=e.arxiv_id,
                title=e.title,
                date=e.date,
                votes=e.votes,
                topic=m.topic if m is not None else None,
                authors=e.authors,
                english="\n".join(english_lines),
                korean="\n".join([e.title, *(s.text for s in e.sections)]),
                translated="\n".join(translated_lines),
                sections_translated=translated,
                sections_total=len(e.sections),
                tldr=(m.tldr or None) if m is not None else None,
            )
        )
    return docs


def load_docs_inputs(
    settings: Settings,
    entries: list[Entry] | None = None,
    translations: list[SectionTranslation] | None = None,
) -> list[IndexDoc]:
    """The index documents of the output folder (``entries``/``translations``: already loaded)."""
    out = OutDir(settings.out_dir)
    entries = out.load_entries() if entries is None else entries
    translations = out.load_translations() if translations is None else translations
    metadata = out.load_metadata()
    if not translations:
        log.warning("%s not found or empty: indexing titles and English terms only", out.translations_path)
    memory = load_memory(settings.translate.memory_files)
    return build_docs(entries, translations, metadata, memory)


# -- chunks --------------------------------------------------------------------------------

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[])")


def chunk_text(doc: IndexDoc, chunk_tokens: int) -> list[str]:
    """Pack the document's lines (sentences for long lines) into chunks of about
    ``chunk_tokens`` tokens; every chunk starts with the title."""
    title = doc.title
    budget = max(16, chunk_tokens - count_tokens(title))
    units: list[tuple[str, int]] = []
    for line in doc.english.split("\n")[1:]:
        n = count_tokens(line)
        if n <= budget:
            units.append((line, n))
            continue
        for sent in _SENTENCE.split(line):
            units.extend(_split_long(sent, budget))
    chunks: list[str] = []
    current: list[str] = []
    used = 0
    for text, n in units:
        if current and used + n > budget:
            chunks.append("\n".join([title, *current]))
            current, used = [], 0
        current.append(text)
        used += n
    if current or not chunks:
        chunks.append("\n".join([title, *current]))
    return chunks


def _split_long(text: str, budget: int) -> list[tuple[str, int]]:
    n = count_tokens(text)
    if n <= budget:
        return [(text, n)]
    enc = get_encoding()
    ids = enc.encode(text, disallowed_special=())
    return [(enc.decode(ids[i : i + budget]), len(ids[i : i + budget])) for i in range(0, len(ids), budget)]


def chunk_metadata(doc: IndexDoc, position: int) -> dict[str, Any]:
    """Chroma metadata (no None values): filters use date_int, votes, topic_key."""
    md: dict[str, Any] = {"entry_id": doc.entry_id, "title": doc.title[:500], "chunk": position}
    if doc.arxiv_id:
        md["arxiv_id"] = doc.arxiv_id
    if doc.date:
        md["date"] = doc.date.isoformat()
        md["date_int"] = int(doc.date.strftime("%Y%m%d"))
    if doc.votes is not None:
        md["votes"] = doc.votes
    if doc.topic:
        md["topic"] = doc.topic
        md["topic_key"] = doc.topic.strip().casefold()
    if doc.authors:
        md["authors"] = ", ".join(doc.authors)[:2000]
    return md
