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


def iter_text_lines(path: Path) -> Iterator[tuple[int, str | None]]:
    """(line number, text) of every line of ``path``; None for a line that is not UTF-8
    (the file's other lines are still read)."""
    lineno = 0
    with open(path, "rb") as f:
        for raw in f:  # split on \n; then on a lone \r, as a text-mode read (universal newlines)
            raw = raw[:-1] if raw.endswith(b"\n") else raw
            for part in (raw[:-1] if raw.endswith(b"\r") else raw).split(b"\r"):
                lineno += 1
                try:
                    yield lineno, part.decode("utf-8")
                except UnicodeDecodeError:
                    yield lineno, None


def iter_jsonl_dicts(path: Path) -> Iterator[dict[str, Any]]:
    for _, record in _numbered_dicts(path):
        yield record


def _numbered_dicts(path: Path) -> Iterator[tuple[int, Any]]:
    path = Path(path)
    if not path.exists():
        return
    for lineno, line in iter_text_lines(path):
        if line is not None:
            line = line.strip()
            if not line:
                continue
            try:
                yield lineno, json.loads(line)
                continue
            except (ValueError, RecursionError):  # not JSON, or nested beyond the parser
                pass
        log.warning("%s:%d: skipping a corrupt line (interrupted write?)", path, lineno)


def read_jsonl(path: Path, model: type[M]) -> list[M]:
    out: list[M] = []
    for lineno, d in _numbered_dicts(path):
        try:
            out.append(model.model_validate(d))
        except Exception as exc:  # pydantic.ValidationError
            log.warning(
                "%s:%d: skipping a record that is not a valid %s: %s", path, lineno, model.__name__, exc
            )
    return out
