"""Tolerant reads of JSONL files: a torn or corrupt line is skipped with a warning naming
file and line, an invalid record likewise.  A leaf: the layout's loaders and the writers
both use it."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)


def iter_jsonl_dicts(path: Path) -> Iterator[dict[str, Any]]:
    path = Path(path)
    if not path.exists():
        return
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                log.warning("%s:%d: skipping a corrupt line (interrupted write?)", path, lineno)


def read_jsonl(path: Path, model: type[M]) -> list[M]:
    out: list[M] = []
    for d in iter_jsonl_dicts(path):
        try:
            out.append(model.model_validate(d))
        except Exception as exc:  # pydantic.ValidationError
            log.warning("%s: skipping a record that is not a valid %s: %s", path, model.__name__, exc)
    return out
