"""The index stage's inputs read line by line, and each entry's fingerprint.

A daily ``digest index`` adds one day to thousands: parsing and validating every record of
``entries.jsonl``, ``translations.jsonl`` and ``metadata.jsonl`` again, and building every
document again, was most of its work.  So the files are read as raw lines and each line is
hashed (no JSON); a line whose hash an earlier run validated (the index store's ``lines``
table: line -> entry id) is not parsed, only the others are.  An entry's **fingerprint**
hashes its own line, its translation lines and its metadata line (in file order: the last
record wins, as in ``docs.py``), the translation memory's files and the records' schema: a
document whose fingerprint is the one stored is neither parsed nor built again.

A line that is not JSON, not UTF-8, or not a valid record is skipped with a warning naming
file and line, every run, as the loaders of ``store/reading.py`` do.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel
from pydantic.version import VERSION as PYDANTIC_VERSION

from ... import text as text_rules
from ...errors import InputError
from ...records import Entry, IndexDoc, Metadata, SectionTranslation
from ...store.jsonl import content_hash, file_hash
from ...store.layout import OutDir
from ...store.reading import parse_record, split_lines
from ...text.memory import TranslationMemory
from . import docs

log = logging.getLogger(__name__)

DOCS_VERSION = "docs-v1"  # bump when docs.py builds a document otherwise from the same records
_KINDS = (("entries", Entry), ("translations", SectionTranslation), ("metadata", Metadata))
M = TypeVar("M", bound=BaseModel)


def records_identity() -> str:
    """The records' schema and validator, and the documents' builder (the source of
    ``docs.py`` and of every text rule it applies, ``text/``): a line validated, or a
    document built, under another identity is validated or built again."""
    schemas = [m.model_json_schema() for m in (Entry, SectionTranslation, Metadata, IndexDoc)]
    builder = [Path(docs.__file__), *sorted(Path(text_rules.__file__).parent.glob("*.py"))]
    return content_hash(DOCS_VERSION, PYDANTIC_VERSION, schemas, [file_hash(p) for p in builder], length=16)


@dataclass
class Unit:
    """One entry's share of the inputs: line numbers (0-based) and its fingerprint."""

    entry_id: str
    entry: int
    translations: list[int] = field(default_factory=list)
    metadata: int | None = None
    fingerprint: str = ""


class _Lines:
    """One JSONL file as raw lines and their keys."""

    def __init__(self, path: Path, kind: str, salt: bytes) -> None:
        self.path, self.kind = path, kind
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            data = b""
        except OSError as exc:
            raise InputError(f"cannot read {path}: {exc}") from None
        self.lines = split_lines(data)
        prefix = salt + kind.encode() + b"\x1f"
        self.keys = [
            hashlib.blake2b(prefix + line, digest_size=12).hexdigest() if line.strip() else ""
            for line in self.lines
        ]

    def parse(self, i: int, model: type[M]) -> M | None:
        """Line ``i`` as a ``model``; None (with a warning naming file and line) when it is not one."""
        try:
            text: str | None = self.lines[i].decode("utf-8")
        except UnicodeDecodeError:
            text = None
        return parse_record(self.path, i + 1, text, model)


class IndexInputs:
    """The entries of the output folder as :class:`Unit` s, in file order, with what an
    unchanged one needs no parsing for; :meth:`load` parses the units asked for."""

    def __init__(self, out: OutDir, known: dict[str, str], memory: TranslationMemory) -> None:
        if not out.entries_path.exists():
            raise InputError(f"{out.entries_path} not found: run `digest parse` first")
        identity = records_identity()
        salt = identity.encode()
        self.memory = memory
        self.files = {
            "entries": _Lines(out.entries_path, "entries", salt),
            "translations": _Lines(out.translations_path, "translations", salt),
            "metadata": _Lines(out.metadata_path, "metadata", salt),
        }
        self.new_lines: dict[str, str] = {}  # key -> entry id of the lines validated in this run
        self.valid_lines: dict[str, str] = {}  # key -> entry id of every valid line
        self._parsed: dict[tuple[str, int], Any] = {}
        owners = {kind: self._owners(kind, model, known) for kind, model in _KINDS}
        common = content_hash(identity, [file_hash(p) for p in memory.paths]).encode()
        by_entry: dict[str, list[int]] = defaultdict(list)
        for i, owner in owners["translations"].items():
            by_entry[owner].append(i)
        last_meta = {owner: i for i, owner in owners["metadata"].items()}
        keys = {kind: f.keys for kind, f in self.files.items()}
        self.units: list[Unit] = []
        for i, entry_id in self._last_of_each(owners["entries"]).items():
            unit = Unit(entry_id, i, by_entry.get(entry_id, []), last_meta.get(entry_id))
            parts = [keys["entries"][i], *(keys["translations"][t] for t in unit.translations), "|"]
            if unit.metadata is not None:
                parts.append(keys["metadata"][unit.metadata])
            unit.fingerprint = hashlib.blake2b(common + " ".join(parts).encode(), digest_size=10).hexdigest()
            self.units.append(unit)
        if not owners["translations"]:
            log.warning(
                "%s not found or empty: indexing titles and English terms only", out.translations_path
            )

    def _last_of_each(self, entries: dict[int, str]) -> dict[int, str]:
        """The entry lines, an id given twice (a hand-edited file) by its later line, as the
        later record of a translation or metadata wins."""
        last = {entry_id: i for i, entry_id in entries.items()}
        for i, entry_id in entries.items():
            if last[entry_id] != i:
                log.warning(
                    "%s:%d: entry %s is given again at line %d: the later record is indexed",
                    self.files["entries"].path,
                    i + 1,
                    entry_id,
                    last[entry_id] + 1,
                )
        return {i: entry_id for i, entry_id in entries.items() if last[entry_id] == i}

    def _owners(self, kind: str, model: type[BaseModel], known: dict[str, str]) -> dict[int, str]:
        """Line number -> entry id of every valid line of one file (in order); the lines not
        validated before are parsed now."""
        lines = self.files[kind]
        owners: dict[int, str] = {}
        for i, key in enumerate(lines.keys):
            if not key:
                continue
            owner = known.get(key)
            if owner is None:
                record = lines.parse(i, model)
                if record is None:
                    continue
                owner = record.id if isinstance(record, Entry) else record.entry_id  # type: ignore[attr-defined]
                self.new_lines[key] = owner
                self._parsed[(kind, i)] = record
                lines.lines[i] = b""  # parsed: the record is kept, its bytes are not needed
            owners[i] = owner
            self.valid_lines[key] = owner
        return owners

    def _record(self, kind: str, model: type[M], i: int) -> M | None:
        if (kind, i) not in self._parsed:
            self._parsed[(kind, i)] = self.files[kind].parse(i, model)
        return self._parsed[(kind, i)]

    def load(self, units: Iterable[Unit]) -> tuple[list[Entry], list[SectionTranslation], list[Metadata]]:
        """The records of ``units``: entries in order, their translations in file order, and
        their metadata."""
        entries: list[Entry] = []
        translations: list[tuple[int, SectionTranslation]] = []
        metadata: list[Metadata] = []
        for unit in units:
            entry = self._record("entries", Entry, unit.entry)
            if entry is None:  # pragma: no cover - validated when its key was recorded
                raise InputError(f"{self.files['entries'].path}:{unit.entry + 1}: changed while read")
            entries.append(entry)
            for t in unit.translations:
                record = self._record("translations", SectionTranslation, t)
                if record is not None:
                    translations.append((t, record))
            if unit.metadata is not None:
                meta = self._record("metadata", Metadata, unit.metadata)
                if meta is not None:
                    metadata.append(meta)
        return entries, [t for _, t in sorted(translations, key=lambda p: p[0])], metadata
