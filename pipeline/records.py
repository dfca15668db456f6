"""Pydantic records of every stage.  Each stage reads and writes JSONL of these."""

from __future__ import annotations

from datetime import date as Date
from typing import Literal

from pydantic import BaseModel, Field

SCHEMA_VERSION = 1


class Provenance(BaseModel):
    """Where an entry was seen: one per digest file it appears in."""

    file: str
    line: int
    date: Date | None = None


class Section(BaseModel):
    label: str | None = None  # "What's New", "Technical Details", ..., None for plain bullets
    text: str  # Korean source text
    line: int  # 1-based line in the first source file


class Entry(BaseModel):
    """One paper of a digest (parse stage, ``entries.jsonl``)."""

    id: str  # arXiv id without version, or "title-<hash>" when the heading has no link
    arxiv_id: str | None = None
    arxiv_version: str | None = None
    url: str | None = None
    title: str
    date: Date | None = None  # digest date of the first provenance
    votes: int | None = None
    authors: list[str] = Field(default_factory=list)
    sections: list[Section] = Field(default_factory=list)
    links: list[str] = Field(default_factory=list)
    source_file: str
    source_line: int
    provenance: list[Provenance] = Field(default_factory=list)
    content_hash: str = ""  # hash of title + section texts


class ParseIssue(BaseModel):
    """A problem (error: something skipped; warning: kept, but changed or doubtful) or a
    note (info: e.g. the encoding a file was decoded from) of the parse stage."""

    file: str
    line: int | None = None
    message: str
    severity: Literal["error", "warning", "info"] = "error"

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.message}"


Origin = Literal["memory", "cache", "model", "source"]


class SectionTranslation(BaseModel):
    """One translated section (translate stage, ``translations.jsonl``)."""

    entry_id: str
    index: int  # position of the section in Entry.sections
    label: str | None = None
    source_hash: str  # hash of the Korean text
    text: str  # English
    origin: Origin
    model: str | None = None
    cache_key: str | None = None
    flags: list[str] = Field(default_factory=list)  # validation problems kept after retry


class KeyResult(BaseModel):
    metric: str
    value: str
    context: str = ""


class NumberMention(BaseModel):
    value: str
    context: str
    kind: Literal["percent", "multiplier", "size", "number"] = "number"


class Metadata(BaseModel):
    """Structured metadata for one entry (enrich stage, ``metadata.jsonl``)."""

    entry_id: str
    # deterministic (no LLM)
    arxiv_id: str | None = None
    date: Date | None = None
    votes: int | None = None
    authors: list[str] = Field(default_factory=list)
    code_urls: list[str] = Field(default_factory=list)
    project_urls: list[str] = Field(default_factory=list)
    dataset_urls: list[str] = Field(default_factory=list)
    numbers: list[NumberMention] = Field(default_factory=list)
    english_terms: list[str] = Field(default_factory=list)
    # from the LLM
    tldr: str | None = None
    topic: str | None = None
    tasks: list[str] = Field(default_factory=list)
    methods: list[str] = Field(default_factory=list)
    datasets: list[str] = Field(default_factory=list)
    benchmarks: list[str] = Field(default_factory=list)
    metrics: list[str] = Field(default_factory=list)
    key_results: list[KeyResult] = Field(default_factory=list)
    model_sizes: list[str] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)
    # bookkeeping
    field_sources: dict[str, Literal["deterministic", "llm"]] = Field(default_factory=dict)
    llm_status: Literal["ok", "failed", "skipped"] = "skipped"
    flags: list[str] = Field(default_factory=list)
    model: str | None = None
    cache_key: str | None = None


class Hit(BaseModel):
    """One search result."""

    entry_id: str
    arxiv_id: str | None = None
    title: str
    date: Date | None = None
    votes: int | None = None
    topic: str | None = None
    score: float
    snippet: str = ""
    ranks: dict[str, int] = Field(default_factory=dict)  # per retriever: dense, bm25_en, bm25_ko
    relevance: float | None = None  # 0..1 query coverage / similarity, comparable across queries
    url: str | None = None  # the arXiv abstract page
    tldr: str | None = None  # from enrich, when the index has it


class Citation(BaseModel):
    arxiv_id: str
    title: str | None = None


class UnsupportedCitation(BaseModel):
    """A citation dropped from the answer: its source does not support its sentence."""

    arxiv_id: str
    sentence: str
    reason: Literal["not_in_source", "unknown_source"]


class RemovedClaim(BaseModel):
    """A sentence of the model's reply left out of the answer, and why."""

    sentence: str
    reason: str  # no_supported_citation, number_not_in_sources, prompt_echo, hangul, refusal


class AnswerSupport(BaseModel):
    """The retrieval-side check run before the LLM is asked (``retrieval/support.py``)."""

    entry_id: str | None = None  # the retrieved entry that covers the question best
    coverage: float = 0.0  # the share of the question's content it holds (idf-weighted)
    missing_names: list[str] = Field(default_factory=list)
    missing_numbers: list[str] = Field(default_factory=list)
    combined_with: str | None = None
    reason: str | None = None  # why the question was refused; None: supported


class Answer(BaseModel):
    question: str
    answer: str
    language: str
    refused: bool = False
    # who refused: the retrieval-side check (no LLM asked), the model itself, or the claim
    # check (the model answered, but no sentence was supported by its sources)
    refused_by: Literal["retrieval", "model", "check"] | None = None
    citations: list[Citation] = Field(default_factory=list)
    removed_citations: list[str] = Field(default_factory=list)  # ids of sources not retrieved
    unsupported_citations: list[UnsupportedCitation] = Field(default_factory=list)
    unsupported_numbers: list[str] = Field(default_factory=list)  # removed with their sentence
    removed_claims: list[RemovedClaim] = Field(default_factory=list)
    support: AnswerSupport | None = None
    query_translation: list[str] = Field(default_factory=list)  # the LLM's rendering of the question
    retrieved: list[Hit] = Field(default_factory=list)


class IndexDoc(BaseModel):
    """One indexed entry (index stage, ``index_docs.jsonl``): what the dense and lexical
    retrievers and ``ask`` see."""

    entry_id: str
    arxiv_id: str | None = None
    title: str
    date: Date | None = None
    votes: int | None = None
    topic: str | None = None
    authors: list[str] = Field(default_factory=list)
    english: str  # title + English sections, one per line
    korean: str  # Korean source sections, one per line
    translated: str = ""  # only the translated sections (and the tldr), one per line: for ``ask``
    sections_translated: int = 0
    sections_total: int = 0
    chunks: list[str] = Field(default_factory=list)  # chunk ids, in order
    tldr: str | None = None  # enrich's one-sentence summary, shown by search

    @property
    def cite_id(self) -> str:
        return self.arxiv_id or self.entry_id


class IndexLocation(BaseModel):
    """Where an output folder's vector index lives (``index.json``, written by ``digest
    index``): later commands use it when they set no location of their own."""

    chroma_url: str | None = None  # None: the embedded store in OUT/chroma
    embedding: Literal["local", "endpoint"] = "local"
    collection: str = ""
