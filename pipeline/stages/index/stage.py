"""Index stage: entries (+ translations, + metadata) -> Chroma vectors (and their copy for
searches, ``retrieval/dense_vectors.py``), the lexical indexes and the index documents
(``index.sqlite``).

One document per entry: its English text (title + translated sections; untranslated
sections contribute the English terms written inside the Korean text, or the
translation memory's rendering when one is configured) and its Korean source text.
The English text is chunked by ``settings.index.chunk_tokens``; chunk ids are content
hashes.  Work is proportional to what changed: a document whose content hash is the one
stored keeps its chunks without re-chunking; only the chunks of changed documents are
looked up in Chroma, embedded, updated or deleted; the lexical indexes analyse only new
texts.  The document store is committed last, in one transaction: a killed run leaves the
previous index intact, and the next run finds what it had already stored in Chroma.  With
no store yet (or another collection), the whole collection is reconciled once.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ...progress import Progress
from ...records import IndexDoc, IndexLocation
from ...retrieval.base import retriever_class, retriever_names
from ...retrieval.bridge_table import prepare_bridge
from ...retrieval.dense import get_collection, open_client, store_identity, store_location
from ...retrieval.embeddings import embedding_function
from ...retrieval.lexical import kiwi_loading
from ...settings import Settings
from ...store.docstate import KeptDoc, StoredDoc, read_lines, read_state, write_docs
from ...store.docstore import doc_hash
from ...store.jsonl import content_hash, write_text_atomic
from ...store.layout import OutDir
from ...store.lock import writes_output
from ...store.staged import StagedDocs
from ...text.memory import load_memory
from .docs import build_docs, chunk_metadata, chunk_text
from .inputs import IndexInputs

log = logging.getLogger(__name__)

_PAGE = 5000  # chunk records read from Chroma at a time when reconciling a whole collection
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


@writes_output
def index_stage(settings: Settings, *, llm: Any = None) -> IndexReport:
    """``digest index``: bring the Chroma collection, the lexical indexes and the index
    documents in line with the current entries, translations and metadata."""
    with kiwi_loading(settings):  # Kiwi loads on another core while the inputs are read
        return _index(settings, llm)


def _index(settings: Settings, llm: Any) -> IndexReport:
    out = OutDir(settings.out_dir)
    memory = load_memory(settings.translate.memory_files)
    inputs = IndexInputs(out, read_lines(out.index_db_path), memory)
    ef = embedding_function(settings, llm)
    client = open_client(settings)
    collection = get_collection(settings, client, ef, create=True)
    report = IndexReport(
        collection=collection.name, entries=len(inputs.units), where=store_location(settings)
    )
    previous, meta = read_state(out.index_db_path)
    target = f"{collection.name}@{store_identity(settings)}"
    if meta.get("collection") != target:  # no store yet, or another collection: reconcile all
        previous = {}
    docs, hashes = _documents(inputs, previous)

    wanted: dict[str, tuple[str, dict[str, Any]]] = {}  # chunks of the changed documents
    changed: set[str] = set()
    for doc, h in zip(docs, hashes, strict=True):
        if isinstance(doc, KeptDoc):
            report.untranslated += doc.stored.untranslated
            continue
        old = previous.get(doc.entry_id)
        if old is not None and old.hash == h:
            doc.chunks = list(old.chunks)
        else:
            changed.add(doc.entry_id)
            doc.chunks = []
            for pos, text in enumerate(chunk_text(doc, settings.index.chunk_tokens)):
                cid = content_hash(doc.entry_id, pos, text, length=24)
                doc.chunks.append(cid)
                wanted[cid] = (text, chunk_metadata(doc, pos))
        if doc.sections_total and not doc.sections_translated:
            report.untranslated += 1
    report.chunks = sum(len(d.chunks) for d in docs)
    gone = sorted(set(previous) - {d.entry_id for d in docs})
    have = _stored_chunks(collection, sorted(changed) + gone if previous else None)
    _count_entries(report, docs, previous, changed, have, wanted)
    _sync_collection(settings, collection, ef, wanted, have, report)

    _record_location(settings, collection.name)
    infos = _prepare_retrievers(settings, StagedDocs(docs, out.index_db_path))
    write_docs(
        out.index_db_path,
        docs,
        hashes,
        previous,
        {"collection": target, **{f"retriever:{name}": info for name, info in infos.items()}},
        inputs=[u.fingerprint for u in inputs.units],
        lines=(inputs.new_lines, inputs.valid_lines),
    )
    # the query bridge's word associations, mined from the same text
    prepare_bridge(settings, corpus=inputs)
    log.info("index: %s", report.summary())
    return report


def _documents(
    inputs: IndexInputs, previous: dict[str, StoredDoc]
) -> tuple[list[IndexDoc | KeptDoc], list[str]]:
    """One document per entry: kept as stored when its fingerprint is the stored one, else
    built from its records; and each one's content hash."""
    kept = {
        i: previous[u.entry_id]
        for i, u in enumerate(inputs.units)
        if u.entry_id in previous and previous[u.entry_id].inputs == u.fingerprint
    }
    todo = [u for i, u in enumerate(inputs.units) if i not in kept]
    built = iter(build_docs(*inputs.load(todo), inputs.memory))
    docs: list[IndexDoc | KeptDoc] = []
    hashes: list[str] = []
    for i, unit in enumerate(inputs.units):
        if i in kept:
            docs.append(KeptDoc(unit.entry_id, kept[i]))
            hashes.append(kept[i].hash)
        else:
            doc = next(built)
            docs.append(doc)
            hashes.append(doc_hash(doc))
    if todo:
        log.debug("index: %d of %d documents built, the others kept", len(todo), len(docs))
    return docs, hashes


def _stored_chunks(collection: Any, entry_ids: list[str] | None) -> dict[str, dict[str, Any]]:
    """Chunk id -> metadata of what Chroma holds for ``entry_ids`` (``None``: everything)."""
    if entry_ids is None:  # page by page: one get of a large collection exceeds SQLite's variables
        everything: dict[str, dict[str, Any]] = {}
        while True:
            got = collection.get(include=["metadatas"], limit=_PAGE, offset=len(everything))
            everything.update(
                {c: dict(md or {}) for c, md in zip(got["ids"], got["metadatas"] or [], strict=False)}
            )
            if len(got["ids"]) < _PAGE:
                return everything
    have: dict[str, dict[str, Any]] = {}
    for i in range(0, len(entry_ids), 200):
        part = entry_ids[i : i + 200]
        where = {"entry_id": part[0]} if len(part) == 1 else {"entry_id": {"$in": part}}
        got = collection.get(where=where, include=["metadatas"])
        have.update({c: dict(md or {}) for c, md in zip(got["ids"], got["metadatas"] or [], strict=False)})
    return have


def _count_entries(
    report: IndexReport,
    docs: Sequence[IndexDoc | KeptDoc],
    previous: dict[str, StoredDoc],
    changed: set[str],
    have: dict[str, dict[str, Any]],
    wanted: dict[str, tuple[str, dict[str, Any]]],
) -> None:
    if previous:  # incremental: by document content
        for doc in docs:
            if doc.entry_id not in previous:
                report.added += 1
            elif doc.entry_id in changed:
                report.updated += 1
            else:
                report.unchanged += 1
        report.deleted = len(set(previous) - {d.entry_id for d in docs})
        return
    # a whole collection reconciled: by what it held
    old_entries = {md.get("entry_id") for md in have.values()}
    touched = {wanted[c][1]["entry_id"] for c in wanted if c not in have or have[c] != wanted[c][1]}
    touched |= {md.get("entry_id") for c, md in have.items() if c not in wanted}
    for doc in docs:
        if doc.entry_id not in old_entries:
            report.added += 1
        elif doc.entry_id in touched:
            report.updated += 1
        else:
            report.unchanged += 1
    report.deleted = len(old_entries - {d.entry_id for d in docs})


def _sync_collection(
    settings: Settings,
    collection: Any,
    ef: Any,
    wanted: dict[str, tuple[str, dict[str, Any]]],
    have: dict[str, dict[str, Any]],
    report: IndexReport,
) -> None:
    """Delete the stale chunks, update changed metadata, embed and add the new chunks."""
    to_add = [cid for cid in wanted if cid not in have]
    to_delete = [cid for cid in have if cid not in wanted]
    to_update = [cid for cid in wanted if cid in have and have[cid] != wanted[cid][1]]
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


def _prepare_retrievers(settings: Settings, docs: StagedDocs) -> dict[str, Any]:
    """Let every registered retriever build what it queries (the lexical indexes), so a search
    never pays for it; what each returns is recorded with the documents."""
    infos: dict[str, Any] = {}
    for name in retriever_names():
        info = retriever_class(name).prepare(settings, docs)
        if info is not None:
            infos[name] = info
    return infos
