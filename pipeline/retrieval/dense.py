"""Dense retrieval: the Chroma store of the index (embedded in ``OUT/chroma``, or a server at
``index.chroma_url``) and the retriever that queries it with the query's embedding."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from ..errors import ConfigError, InputError
from ..records import IndexDoc
from ..settings import Settings
from ..store.layout import OutDir
from .base import RetrieverQuery
from .embeddings import collection_name, embedding_function

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


class DenseRetriever:
    """The query's embedding against the chunks' embeddings; a document ranks by its best chunk."""

    name = "dense"

    def __init__(self, settings: Settings, docs: Sequence[IndexDoc], llm: Any = None) -> None:
        self.ef = embedding_function(settings, llm)
        self.collection = get_collection(settings, open_client(settings), self.ef, create=False)
        self.n_chunks = self.collection.count()
        self.docs = docs
        self._by_id: dict[str, int] | None = None  # for a plain list of documents

    def positions(self, entry_ids: list[str]) -> dict[str, int]:
        """Document positions of these entries (only those the index documents hold)."""
        lookup = getattr(self.docs, "positions_of", None)
        if lookup is not None:  # the document store: an indexed lookup of just these
            return dict(lookup(entry_ids))
        if self._by_id is None:
            self._by_id = {d.entry_id: i for i, d in enumerate(self.docs)}
        return {e: self._by_id[e] for e in entry_ids if e in self._by_id}

    @classmethod
    def prepare(cls, settings: Settings, docs: list[IndexDoc]) -> None:
        """Nothing: the index stage itself writes the vectors."""

    def warm_up(self) -> None:
        self.ef(["warm up"])

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
        vector = self.ef.embed_query([text])[0]  # type: ignore[attr-defined]
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
