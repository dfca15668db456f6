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


def split_lines(data: bytes) -> list[bytes]:
    """``data``'s lines as a text-mode read splits them (universal newlines: ``\r\n``,
    ``\r``, ``\n``); a newline at the very end starts no line of its own."""
    lines = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
    return lines[:-1] if lines and not lines[-1] else lines


def iter_text_lines(path: Path) -> Iterator[tuple[int, str | None]]:
    """(line number, text) of every line of ``path``; None for a line that is not UTF-8
    (the file's other lines are still read)."""
    lineno = 0
    with open(path, "rb") as f:
        for raw in f:  # up to each \n; a lone \r inside ends a line too
            for part in split_lines(raw):
                lineno += 1
                try:
                    yield lineno, part.decode("utf-8")
                except UnicodeDecodeError:
                    yield lineno, None


_NOTHING = object()  # a blank line, or a corrupt one (warned about)


def _json_of(path: Path, lineno: int, text: str | None) -> Any:
    """The JSON value of one line (``text``: None when it is not UTF-8); :data:`_NOTHING`
    for a blank line, and, with a warning naming file and line, for a corrupt one."""
    if text is not None:
        text = text.strip()
        if not text:
            return _NOTHING
        try:
            return json.loads(text)
        except (ValueError, RecursionError):  # not JSON, or nested beyond the parser
            pass
    log.warning("%s:%d: skipping a corrupt line (interrupted write?)", path, lineno)
    return _NOTHING


def parse_record(path: Path, lineno: int, text: str | None, model: type[M]) -> M | None:
    """One line of ``path`` as a ``model``: None for a blank line and, with a warning naming
    file and line, for one that is not UTF-8 (``text`` None), not JSON or not a valid record."""
    data = _json_of(path, lineno, text)
    if data is _NOTHING:
        return None
    try:
        return model.model_validate(data)
    except Exception as exc:  # pydantic.ValidationError
        log.warning("%s:%d: skipping a record that is not a valid %s: %s", path, lineno, model.__name__, exc)
        return None


def iter_jsonl_dicts(path: Path) -> Iterator[dict[str, Any]]:
    path = Path(path)
    if not path.exists():
        return
    for lineno, text in iter_text_lines(path):
        data = _json_of(path, lineno, text)
        if data is not _NOTHING:
            yield data


def read_jsonl(path: Path, model: type[M]) -> list[M]:
    path = Path(path)
    if not path.exists():
        return []
    found = (parse_record(path, lineno, text, model) for lineno, text in iter_text_lines(path))
    return [record for record in found if record is not None]
