"""The output folder: where every artifact lives and how each is loaded.

No other module of the package spells an artifact's file name; they all ask an
:class:`OutDir`.  Loaders of a stage's input raise a clear :class:`InputError` naming the
command to run when the artifact is missing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from ..records import Entry, IndexDoc, Metadata, SectionTranslation
from .jsonl import read_jsonl

log = logging.getLogger(__name__)

ENTRIES = "entries.jsonl"  # parse
PARSE_ISSUES = "parse_issues.jsonl"  # parse
TRANSLATIONS = "translations.jsonl"  # translate
GLOSSARY = "glossary.tsv"  # translate (user-editable)
METADATA = "metadata.jsonl"  # enrich
INDEX_DOCS = "index_docs.jsonl"  # index
CHROMA = "chroma"  # index: the embedded vector store
BM25 = "bm25"  # index: the lexical indexes
CACHE = "cache"  # the LLM stages' journals: cache/<stage>.jsonl
NEWSLETTER = "newsletter"  # newsletter
BATCH_LEDGER = "batches.jsonl"  # batch: every submission step
BATCH_REQUESTS = "batches"  # batch: the request files, batches/<local id>.jsonl
MOCK_STATE = ".mock-llm"  # the offline mock's files and batches
LOCK = ".digest.lock"  # one run at a time


@dataclass(frozen=True)
class OutDir:
    """An output folder (``settings.out_dir``)."""

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    # -- paths ----------------------------------------------------------------------------

    @property
    def entries_path(self) -> Path:
        return self.root / ENTRIES

    @property
    def parse_issues_path(self) -> Path:
        return self.root / PARSE_ISSUES

    @property
    def translations_path(self) -> Path:
        return self.root / TRANSLATIONS

    @property
    def glossary_path(self) -> Path:
        return self.root / GLOSSARY

    @property
    def metadata_path(self) -> Path:
        return self.root / METADATA

    @property
    def index_docs_path(self) -> Path:
        return self.root / INDEX_DOCS

    @property
    def chroma_dir(self) -> Path:
        return self.root / CHROMA

    @property
    def bm25_dir(self) -> Path:
        return self.root / BM25

    def journal_path(self, stage: str) -> Path:
        """The journal (resumable cache) of one stage's LLM results."""
        return self.root / CACHE / f"{stage}.jsonl"

    @property
    def newsletter_dir(self) -> Path:
        return self.root / NEWSLETTER

    @property
    def batch_ledger_path(self) -> Path:
        return self.root / BATCH_LEDGER

    @staticmethod
    def batch_request_file(local_id: str) -> str:
        """Where a batch's request file goes, relative to the folder (as the ledger records it)."""
        return f"{BATCH_REQUESTS}/{local_id}.jsonl"

    @property
    def mock_state_dir(self) -> Path:
        return self.root / MOCK_STATE

    @property
    def lock_path(self) -> Path:
        return self.root / LOCK

    # -- loaders --------------------------------------------------------------------------

    def load_entries(self) -> list[Entry]:
        """Entries of the last parse; a clear error when parse has not run."""
        if not self.entries_path.exists():
            raise InputError(f"{self.entries_path} not found: run `digest parse` first")
        return read_jsonl(self.entries_path, Entry)

    def load_translations(self) -> list[SectionTranslation]:
        """Translations so far (none when translate has not run)."""
        return read_jsonl(self.translations_path, SectionTranslation)

    def load_metadata(self) -> list[Metadata]:
        """Metadata so far (none when enrich has not run)."""
        return read_jsonl(self.metadata_path, Metadata)

    def load_index_docs(self, *, missing_ok: bool = False) -> list[IndexDoc]:
        if not self.index_docs_path.exists():
            if missing_ok:
                return []
            raise InputError(f"{self.index_docs_path} not found: run `digest index` first")
        return read_jsonl(self.index_docs_path, IndexDoc)
