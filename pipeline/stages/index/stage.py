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
from dataclasses import dataclass, field
from typing import Any

from ...progress import Progress
from ...records import IndexDoc, IndexLocation
from ...retrieval.base import retriever_class, retriever_names
from ...retrieval.dense import get_collection, open_client, store_location
from ...retrieval.embeddings import embedding_function
from ...settings import Settings
from ...store.jsonl import content_hash, write_jsonl_atomic, write_text_atomic
from ...store.layout import OutDir
from .docs import chunk_metadata, chunk_text, load_docs_inputs

log = logging.getLogger(__name__)

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
        d.model_dump(mode="json") for d in OutDir(settings.out_dir).load_index_docs(missing_ok=True)
    ] != [d.model_dump(mode="json") for d in docs]:
        write_jsonl_atomic(docs_path, docs)
    _record_location(settings, collection.name)
    _prepare_retrievers(settings, docs)
    log.info("index: %s", report.summary())
    return report


def _record_location(settings: Settings, collection: str) -> None:
    """Write where the index lives, so later commands find it without ``--chroma-url``."""
    out = OutDir(settings.out_dir)
    location = IndexLocation(
        chroma_url=settings.index.chroma_url or None,
        embedding=settings.index.embedding,
        collection=collection,
    )
    if out.load_index_location() != location:
        write_text_atomic(out.index_location_path, location.model_dump_json(indent=2) + "\n")


def _prepare_retrievers(settings: Settings, docs: list[IndexDoc]) -> None:
    """Let every registered retriever build what it queries (the BM25 indexes), so the first
    `digest search` doesn't pay for Korean morphological analysis of the whole corpus.
    Cached under a hash of the texts: unchanged input costs a load."""
    for name in retriever_names():
        retriever_class(name).prepare(settings, docs)
