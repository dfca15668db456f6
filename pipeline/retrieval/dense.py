"""Dense retrieval: the Chroma store of the index (embedded in ``OUT/chroma``, or a server at
``index.chroma_url``) and the retriever that queries it with the query's embedding; or,
for an embedded index (up to 2 million chunks), the chunk vectors' own copy
(``dense_vectors.py``; partitioned above 50,000 chunks, ``dense_ivf.py``), which a search
reads without importing chromadb."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from ..errors import ConfigError, InputError
from ..records import IndexDoc
from ..settings import Settings
from ..store.docstate import read_state
from ..store.layout import OutDir
from ..store.staged import StagedDocs
from .base import RetrieverQuery
from .dense_vectors import VectorCopy, build_copy
from .embedder import collection_name, embedder

CHUNKER_VERSION = "sections-v1"  # part of the collection name: a new chunker, a new collection


def open_client(settings: Settings) -> Any:
    """Embedded ``PersistentClient(OUT/chroma)``, or ``HttpClient`` for ``index.chroma_url``."""
    import chromadb  # heavy: imported when an index is opened
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


def store_identity(settings: Settings) -> str:
    """:func:`store_location`, the same however the output folder is named (relative or not)."""
    return settings.index.chroma_url or str(OutDir(settings.out_dir).chroma_dir.resolve())


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
            + other_indexes_hint(settings, client)
        ) from None


def other_indexes_hint(settings: Settings, client: Any) -> str:
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


class DenseRanking:
    def __init__(self, order: list[int], similarity: dict[int, float]) -> None:
        self.order = order
        self.similarity = similarity  # cosine similarity of each ranked document's best chunk

    def relevance(self, position: int) -> float:
        return self.similarity.get(position, 0.0)

    def relevances(self, positions: Sequence[int]) -> np.ndarray:
        return np.asarray([self.similarity.get(p, 0.0) for p in positions], dtype=np.float64)


class DenseRetriever:
    """The query's embedding against the chunks' embeddings; a document ranks by its best chunk.
    Reads the vector copy when the index has one for these embedding settings, else Chroma."""

    name = "dense"

    def __init__(self, settings: Settings, docs: Sequence[IndexDoc], llm: Any = None) -> None:
        self.embed = embedder(settings, llm)
        self.docs = docs
        self._by_id: dict[str, int] | None = None  # for a plain list of documents
        meta = getattr(docs, "meta", None)
        info = meta(f"retriever:{self.name}") if meta is not None and not settings.index.chroma_url else None
        self.copy = VectorCopy.open(
            OutDir(settings.out_dir), info, collection_name(settings, CHUNKER_VERSION), len(docs)
        )
        self.collection: Any = None
        self.n_chunks = len(self.copy) if self.copy is not None else 0
        if self.copy is None:
            from .embeddings import embedding_function  # chromadb: only when Chroma is asked

            self.collection = get_collection(
                settings, open_client(settings), embedding_function(settings, llm), create=False
            )
            self.n_chunks = self.collection.count()

    def positions(self, entry_ids: list[str]) -> dict[str, int]:
        """Document positions of these entries (only those the index documents hold)."""
        lookup = getattr(self.docs, "positions_of", None)
        if lookup is not None:  # the document store: an indexed lookup of just these
            return dict(lookup(entry_ids))
        if self._by_id is None:
            self._by_id = {d.entry_id: i for i, d in enumerate(self.docs)}
        return {e: self._by_id[e] for e in entry_ids if e in self._by_id}

    @classmethod
    def prepare(cls, settings: Settings, docs: StagedDocs) -> dict[str, Any] | None:
        """The vector copy of an embedded index (the index stage has written the vectors to
        Chroma already); None for a Chroma server."""
        if settings.index.chroma_url:
            return None
        from .embeddings import embedding_function

        out = OutDir(settings.out_dir)
        collection = get_collection(
            settings, open_client(settings), embedding_function(settings), create=False
        )
        current = read_state(out.index_db_path, docs=False)[1].get(f"retriever:{cls.name}")
        return build_copy(out, collection, docs.chunk_lists(), current)

    def warm_up(self) -> None:
        self.embed(["warm up"])

    def rank(
        self,
        query: str,
        allowed: np.ndarray,
        depth: int,
        where: dict[str, Any] | None = None,
    ) -> DenseRanking:
        text = RetrieverQuery.of(query).text
        if not self.n_chunks or not allowed.any() or not text.strip():
            return DenseRanking([], {})
        vector = self.embed([text])[0]
        if self.copy is not None:  # every chunk, or the nearest lists'; `allowed` holds the filters
            return DenseRanking(*self.copy.rank(vector, allowed, depth))
        res = self.collection.query(
            query_embeddings=[vector],
            n_results=min(self.n_chunks, max(2 * depth, 60)),
            where=where,
            include=["metadatas", "distances"],
        )
        found = [
            (str((md or {}).get("entry_id")), dist)
            for md, dist in zip(res["metadatas"][0], res["distances"][0], strict=False)
        ]
        position = self.positions([e for e, _ in found])
        order: list[int] = []
        similarity: dict[int, float] = {}
        for entry_id, dist in found:
            pos = position.get(entry_id)
            if pos is None or pos >= len(allowed) or not allowed[pos] or pos in similarity:
                continue
            similarity[pos] = 1.0 - float(dist)
            order.append(pos)
        return DenseRanking(order[:depth], similarity)
