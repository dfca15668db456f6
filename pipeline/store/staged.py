"""The documents an index run is writing, by position, for the retrievers' ``prepare``: the
ones it built, and the ones it keeps as stored (``docstore.KeptDoc``), read from the store
only when asked for.  A retriever that knows a kept document by its previous position (its
own cache of that generation) reads nothing."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from ..records import IndexDoc
from .docstate import KeptDoc, StoredDoc
from .docstore import ByPosition, DocStore


class StagedDocs(ByPosition):
    def __init__(self, items: Sequence[IndexDoc | KeptDoc], store: Path) -> None:
        self._items = list(items)
        self._store_path = Path(store)

    def __len__(self) -> int:
        return len(self._items)

    def kept(self, position: int) -> StoredDoc | None:
        """The stored document (its previous position, hash) when kept as it is; else None."""
        item = self._items[position]
        return item.stored if isinstance(item, KeptDoc) else None

    def chunk_lists(self) -> list[list[str]]:
        """Every document's chunk ids, without reading a kept one."""
        return [list(item.chunks) for item in self._items]

    def get_many(self, positions: Iterable[int]) -> list[IndexDoc]:
        """The documents at ``positions`` (kept ones read from the store in one go)."""
        wanted = [int(p) for p in positions]
        kept = {p: item.stored.pos for p in wanted if isinstance(item := self._items[p], KeptDoc)}
        read: dict[int, IndexDoc] = {}
        if kept:
            store = DocStore(self._store_path)
            try:
                olds = sorted(set(kept.values()))
                by_old = dict(zip(olds, store.get_many(olds), strict=True))
            finally:
                store.close()
            read = {p: by_old[old] for p, old in kept.items()}
        return [read[p] if p in read else self._items[p] for p in wanted]  # type: ignore[misc]
