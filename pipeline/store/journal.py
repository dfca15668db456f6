"""The resumable journal: an append-only key -> value store on a JSONL file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .jsonl import append_jsonl, iter_jsonl_dicts, write_jsonl_atomic


class JsonlCache:
    """An append-only key -> value store on a JSONL file.

    It is the journal that makes long stages resumable: each result is appended
    (and fsynced) as soon as it is produced; a re-run finds it by key.
    The last value written for a key wins.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self._data: dict[str, Any] = {}
        for d in iter_jsonl_dicts(self.path):
            if isinstance(d, dict) and "key" in d:
                self._data[d["key"]] = d.get("value")

    def __contains__(self, key: str) -> bool:
        return key in self._data

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key: str, default: Any = None) -> Any:
        return self._data.get(key, default)

    def put(self, key: str, value: Any) -> None:
        self.put_many({key: value})

    def put_many(self, items: dict[str, Any]) -> None:
        if not items:
            return
        append_jsonl(self.path, [{"key": k, "value": v} for k, v in items.items()])
        self._data.update(items)

    def compact(self) -> None:
        write_jsonl_atomic(self.path, [{"key": k, "value": v} for k, v in self._data.items()])
