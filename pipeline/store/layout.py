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
from ..records import Entry, IndexDoc, IndexLocation, Metadata, SectionTranslation
from .docstore import DocStore
from .reading import read_jsonl

log = logging.getLogger(__name__)

ENTRIES = "entries.jsonl"  # parse
PARSE_ISSUES = "parse_issues.jsonl"  # parse
TRANSLATIONS = "translations.jsonl"  # translate
GLOSSARY = "glossary.tsv"  # translate (user-editable)
METADATA = "metadata.jsonl"  # enrich
INDEX_DB = "index.sqlite"  # index: the index documents (SQLite, by position, entry and chunk id)
INDEX_LOCATION = "index.json"  # index: where the vector store is (server or embedded)
CHROMA = "chroma"  # index: the embedded vector store
BM25 = "bm25"  # index: the lexical indexes (bm25/<lang>-<key>/)
LEXICON = "bm25/lexicon.sqlite"  # index: the vocabulary and the analysed tokens of every text
DENSE = "dense"  # index: a copy of the chunk vectors a search reads without Chroma (dense/<key>/)
BRIDGE = "bridge"  # index: the query bridge's word-association table and token cache
CACHE = "cache"  # the LLM stages' journals: cache/<stage>.jsonl
CAPABILITIES = "capabilities.json"  # cache/capabilities.json: what each endpoint was found to do
NEWSLETTER = "newsletter"  # newsletter
FEED = "feed.xml"  # newsletter: the cumulative feed, newsletter/feed.xml
BATCH_LEDGER = "batches.jsonl"  # batch: every submission step
BATCH_REQUESTS = "batches"  # batch: the request files, batches/<local id>.jsonl
MOCK_STATE = ".mock-llm"  # the offline mock's files and batches
LOCK = ".digest.lock"  # one run at a time
SERVE_INFO = "serve.json"  # digest serve: where the running server listens (url, pid)


class _Artifact:
    """A path attribute of :class:`OutDir`: ``root / name``."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, obj: OutDir | None, owner: type) -> Path:
        if obj is None:
            raise AttributeError(self.name)
        return obj.root / self.name


@dataclass(frozen=True)
class OutDir:
    """An output folder (``settings.out_dir``)."""

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    # -- paths ----------------------------------------------------------------------------

    entries_path = _Artifact(ENTRIES)
    parse_issues_path = _Artifact(PARSE_ISSUES)
    translations_path = _Artifact(TRANSLATIONS)
    glossary_path = _Artifact(GLOSSARY)
    metadata_path = _Artifact(METADATA)
    index_db_path = _Artifact(INDEX_DB)
    index_location_path = _Artifact(INDEX_LOCATION)
    chroma_dir = _Artifact(CHROMA)
    bm25_dir = _Artifact(BM25)
    lexicon_path = _Artifact(LEXICON)
    dense_dir = _Artifact(DENSE)
    bridge_dir = _Artifact(BRIDGE)
    newsletter_dir = _Artifact(NEWSLETTER)
    batch_ledger_path = _Artifact(BATCH_LEDGER)
    mock_state_dir = _Artifact(MOCK_STATE)
    lock_path = _Artifact(LOCK)
    serve_info_path = _Artifact(SERVE_INFO)

    @property
    def feed_path(self) -> Path:
        """The cumulative RSS feed (the latest papers of every digest date)."""
        return self.newsletter_dir / FEED

    @property
    def capabilities_path(self) -> Path:
        """The probed capabilities of each endpoint and model (``pipeline/llm/capabilities.py``)."""
        return self.root / CACHE / CAPABILITIES

    @property
    def bridge_tokens_path(self) -> Path:
        """Korean morphemes of each aligned sentence, by content hash (the bridge's cache)."""
        return self.root / BRIDGE / "tokens.jsonl"

    @property
    def bridge_glosses_path(self) -> Path:
        """The ``한국어(English)`` glosses written in each Korean text, by content hash."""
        return self.root / BRIDGE / "glosses.sqlite"

    def journal_path(self, stage: str) -> Path:
        """The journal (resumable cache) of one stage's LLM results."""
        return self.root / CACHE / f"{stage}.jsonl"

    @staticmethod
    def batch_request_file(local_id: str) -> str:
        """Where a batch's request file goes, relative to the folder (as the ledger records it)."""
        return f"{BATCH_REQUESTS}/{local_id}.jsonl"

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

    def open_index_docs(self) -> DocStore:
        """The index documents, read on demand (a sequence by position; see ``docstore.py``)."""
        if not self.index_db_path.exists():
            raise InputError(f"{self.index_db_path} not found: run `digest index` first")
        return DocStore(self.index_db_path)

    def load_index_docs(self, *, missing_ok: bool = False) -> list[IndexDoc]:
        """Every index document, in order (reads them all: prefer :meth:`open_index_docs`)."""
        if not self.index_db_path.exists() and missing_ok:
            return []
        store = self.open_index_docs()
        try:
            return list(store)
        finally:
            store.close()

    def load_index_location(self) -> IndexLocation | None:
        """Where ``digest index`` put this folder's index; None when not recorded (or unreadable)."""
        path = self.index_location_path
        if not path.is_file():
            return None
        try:
            return IndexLocation.model_validate_json(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            log.warning("ignoring %s: %s", path, type(exc).__name__)
            return None
