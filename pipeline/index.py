"""Index stage: entries (+ translations, + metadata) -> Chroma vectors and ``index_docs.jsonl``.

One document per entry: its English text (title + translated sections; untranslated
sections contribute the English terms written inside the Korean text, or the
translation memory's rendering when one is configured) and its Korean source text.
The English text is chunked by ``settings.index.chunk_tokens``; chunk ids are content
hashes, so re-indexing unchanged input writes nothing, changed text replaces its
chunks and entries that disappeared are deleted.  ``index_docs.jsonl`` holds the same
documents for the lexical retrievers and for ``ask``.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .embeddings import collection_name, embedding_function
from .errors import ConfigError, InputError
from .progress import Progress
from .records import Entry, IndexDoc, Metadata, SectionTranslation
from .settings import Settings
from .store.jsonl import content_hash, write_jsonl_atomic
from .store.layout import OutDir
from .text.memory import TranslationMemory, load_memory
from .text.terms import english_terms

log = logging.getLogger(__name__)

CHUNKER_VERSION = "sections-v1"
_BATCH = 64


@dataclass
class IndexReport:
    collection: str = ""
    entries: int = 0
    chunks: int = 0
    added: int = 0  # entries
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    chunks_added: int = 0
    chunks_deleted: int = 0
    metadata_updated: int = 0
    untranslated: int = 0
    where: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return 0  # a failure raises (a DigestError with its exit code)

    def summary(self) -> str:
        parts = [
            f"indexed {self.entries} entries ({self.chunks} chunks) in {self.collection} at {self.where}",
            f"{self.added} added, {self.updated} updated, {self.deleted} deleted, {self.unchanged} unchanged",
        ]
        if self.untranslated:
            parts.append(
                f"{self.untranslated} entries without translation indexed by title and English terms"
            )
        return "; ".join(parts + self.notes)


# ---------------------------------------------------------------------------- documents


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
            text = t.text.strip() if t is not None else memory.lookup(s.text)
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
            )
        )
    return docs


def load_docs_inputs(settings: Settings) -> list[IndexDoc]:
    out = OutDir(settings.out_dir)
    entries = out.load_entries()
    translations = out.load_translations()
    metadata = out.load_metadata()
    if not translations:
        log.warning("%s not found or empty: indexing titles and English terms only", out.translations_path)
    memory = load_memory(settings.translate.memory_file)
    return build_docs(entries, translations, metadata, memory)


# ---------------------------------------------------------------------------- chunks

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[])")


def chunk_text(doc: IndexDoc, chunk_tokens: int) -> list[str]:
    """Pack the document's lines (sentences for long lines) into chunks of about
    ``chunk_tokens`` tokens; every chunk starts with the title."""
    from .llm.tokens import count_tokens

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
    from .llm.tokens import count_tokens, get_encoding

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


# ---------------------------------------------------------------------------- chroma


def open_client(settings: Settings) -> Any:
    """Embedded ``PersistentClient(OUT/chroma)``, or ``HttpClient`` for ``index.chroma_url``."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    url = settings.index.chroma_url
    if not url:
        path = OutDir(settings.out_dir).chroma_dir
        path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(path), settings=chroma_settings)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"--chroma-url must look like http://HOST:PORT, got {url!r}")
    port = parts.port or (443 if parts.scheme == "https" else 8000)
    try:
        client = chromadb.HttpClient(
            host=parts.hostname, port=port, ssl=parts.scheme == "https", settings=chroma_settings
        )
        client.heartbeat()
    except Exception as exc:
        raise ConfigError(
            f"cannot reach the Chroma server at {parts.scheme}://{parts.hostname}:{port}: "
            f"{type(exc).__name__}"
        ) from None
    return client


def store_location(settings: Settings) -> str:
    return settings.index.chroma_url or str(OutDir(settings.out_dir).chroma_dir)


def get_collection(settings: Settings, client: Any, ef: Any, *, create: bool) -> Any:
    name = collection_name(settings, CHUNKER_VERSION)
    if create:
        return client.get_or_create_collection(
            name,
            embedding_function=ef,
            configuration={"hnsw": {"space": "cosine"}},
            metadata={"embedding": settings.index.embedding, "chunk_tokens": settings.index.chunk_tokens},
        )
    try:
        return client.get_collection(name, embedding_function=ef)
    except Exception:
        raise InputError(
            f"no index {name} at {store_location(settings)}: run `digest index` first"
            + _other_indexes_hint(settings, client)
        ) from None


def _other_indexes_hint(settings: Settings, client: Any) -> str:
    """When `digest index` ran with other embedding settings, say so: search and ask must use
    the same ones (``DIGEST_INDEX__EMBEDDING=...``), or the index must be rebuilt."""
    try:
        others = [
            c for c in client.list_collections() if c.name.startswith(settings.index.collection_prefix + "-")
        ]
    except Exception:
        return ""
    if not others:
        return ""
    built = ", ".join(f"{c.name} (embedding={(c.metadata or {}).get('embedding', '?')})" for c in others)
    return (
        f", or use the embedding settings it was built with: found {built}; "
        "e.g. DIGEST_INDEX__EMBEDDING=endpoint for an index built with --embedding endpoint"
    )


def index_stage(settings: Settings, *, llm: Any = None) -> IndexReport:
    """``digest index``: bring the Chroma collection and ``index_docs.jsonl`` in line with the
    current entries, translations and metadata.  Writes only what changed."""
    docs = load_docs_inputs(settings)
    ef = embedding_function(settings, llm)
    client = open_client(settings)
    collection = get_collection(settings, client, ef, create=True)
    report = IndexReport(collection=collection.name, entries=len(docs), where=store_location(settings))

    wanted: dict[str, tuple[str, dict[str, Any]]] = {}
    for doc in docs:
        doc.chunks = []
        for pos, text in enumerate(chunk_text(doc, settings.index.chunk_tokens)):
            cid = content_hash(doc.entry_id, pos, text, length=24)
            doc.chunks.append(cid)
            wanted[cid] = (text, chunk_metadata(doc, pos))
        if doc.sections_total and not doc.sections_translated:
            report.untranslated += 1
    report.chunks = len(wanted)

    existing = collection.get(include=["metadatas"])
    have: dict[str, dict[str, Any]] = {
        cid: dict(md or {}) for cid, md in zip(existing["ids"], existing["metadatas"] or [], strict=False)
    }
    to_add = [cid for cid in wanted if cid not in have]
    to_delete = [cid for cid in have if cid not in wanted]
    to_update = [cid for cid in wanted if cid in have and have[cid] != wanted[cid][1]]

    old_entries = {md.get("entry_id") for md in have.values()}
    changed_entries = {wanted[c][1]["entry_id"] for c in to_add + to_update}
    changed_entries |= {have[c].get("entry_id") for c in to_delete}
    for doc in docs:
        if doc.entry_id not in old_entries:
            report.added += 1
        elif doc.entry_id in changed_entries:
            report.updated += 1
        else:
            report.unchanged += 1
    report.deleted = len(old_entries - {d.entry_id for d in docs})

    if to_delete:
        for i in range(0, len(to_delete), 500):
            collection.delete(ids=to_delete[i : i + 500])
    if to_update:
        collection.update(ids=to_update, metadatas=[wanted[c][1] for c in to_update])
    if to_add:
        with Progress(len(to_add), "index", settings.progress, unit="chunk") as progress:
            for i in range(0, len(to_add), _BATCH):
                batch = to_add[i : i + _BATCH]
                texts = [wanted[c][0] for c in batch]
                collection.add(
                    ids=batch, documents=texts, metadatas=[wanted[c][1] for c in batch], embeddings=ef(texts)
                )
                progress.advance(len(batch))
    report.chunks_added, report.chunks_deleted, report.metadata_updated = (
        len(to_add),
        len(to_delete),
        len(to_update),
    )

    docs_path = OutDir(settings.out_dir).index_docs_path
    if not docs_path.exists() or [
        d.model_dump(mode="json") for d in load_docs(settings, missing_ok=True)
    ] != [d.model_dump(mode="json") for d in docs]:
        write_jsonl_atomic(docs_path, docs)
    _build_lexical(settings, docs)
    log.info("index: %s", report.summary())
    return report


def _build_lexical(settings: Settings, docs: list[IndexDoc]) -> None:
    """Build (or find) the BM25 indexes now, so the first `digest search` doesn't pay for
    Korean morphological analysis of the whole corpus.  Cached under a hash of the texts:
    unchanged input costs a load."""
    from .lexical import BM25Index

    if not docs:
        return
    cache = OutDir(settings.out_dir).bm25_dir
    BM25Index.load_or_build(cache, [d.english for d in docs], "en")
    BM25Index.load_or_build(cache, [d.korean for d in docs], "ko")


def load_docs(settings: Settings, *, missing_ok: bool = False) -> list[IndexDoc]:
    return OutDir(settings.out_dir).load_index_docs(missing_ok=missing_ok)
