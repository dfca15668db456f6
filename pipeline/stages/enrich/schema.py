"""What the LLM returns for one paper (:class:`LLMMetadata`, its strict JSON schema is sent),
and the published JSON schema of a ``metadata.jsonl`` record."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ...llm.structured import strict_json_schema
from ...records import Metadata
from ...store.jsonl import content_hash
from ...taxonomy import Topic
from ...text.hangul import has_hangul

SCHEMA_NAME = "paper_metadata"

LLM_FIELDS = (
    "tldr",
    "topic",
    "tasks",
    "methods",
    "datasets",
    "benchmarks",
    "metrics",
    "key_results",
    "model_sizes",
    "keywords",
)


class LLMKeyResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    metric: str = Field(description="What was measured, with the benchmark if the text names it.")
    value: str = Field(description="The number exactly as written in the text, with its unit or % sign.")
    context: str = Field(
        description="Short English phrase: on what, against which baseline, under which condition."
    )


class LLMMetadata(BaseModel):
    """The LLM's structured output for one paper (its strict JSON schema is sent)."""

    model_config = ConfigDict(extra="forbid")

    tldr: str = Field(
        description="One English sentence: the contribution and, if stated, the headline result."
    )
    topic: Topic = Field(description="The primary topic of the paper's main contribution.")
    tasks: list[str] = Field(description="Problems or applications addressed, short lowercase noun phrases.")
    methods: list[str] = Field(
        description="Named methods, models, architectures or techniques; the paper's own first."
    )
    datasets: list[str] = Field(description="Datasets used or released, by name.")
    benchmarks: list[str] = Field(description="Evaluation benchmarks, by name.")
    metrics: list[str] = Field(description="Evaluation metrics named in the text.")
    key_results: list[LLMKeyResult] = Field(
        description="Up to 5 main quantitative results; values copied verbatim."
    )
    model_sizes: list[str] = Field(description="Parameter counts with unit, e.g. 7B, 380M.")
    keywords: list[str] = Field(description="3 to 8 English search keywords, most specific first.")

    @field_validator("tldr")
    @classmethod
    def _tldr(cls, v: str) -> str:
        v = " ".join(v.split())
        if not v:
            raise ValueError("tldr is empty: write one English sentence")
        return v

    @field_validator("*")
    @classmethod
    def _english(cls, v: Any, info: Any) -> Any:
        text = v if isinstance(v, str) else json.dumps(_plain(v), ensure_ascii=False)
        if has_hangul(text):
            raise ValueError(f"{info.field_name} contains Korean text: write every field in English")
        return v


def _plain(v: Any) -> Any:
    if isinstance(v, BaseModel):
        return v.model_dump(mode="json")
    if isinstance(v, list):
        return [_plain(x) for x in v]
    return v


def llm_schema_sha() -> str:
    return content_hash(strict_json_schema(LLMMetadata))


_FIELD_DOCS = {
    "entry_id": "Id of the entry: the arXiv id without version, or title-<hash> when the digest has no arXiv link.",
    "arxiv_id": "arXiv identifier without version (deterministic).",
    "date": "Date of the digest the entry first appeared in (deterministic).",
    "votes": "Hugging Face Daily Papers votes (deterministic).",
    "authors": "Author names as listed in the digest (deterministic).",
    "code_urls": "Code repositories, model weights and demos: GitHub, GitLab, Hugging Face models/Spaces (deterministic).",
    "project_urls": "Project pages and other sites, e.g. *.github.io (deterministic).",
    "dataset_urls": "Dataset hosting: Hugging Face datasets, Kaggle, Zenodo, figshare... (deterministic).",
    "numbers": "Every number in the source text with the words around it (deterministic).",
    "english_terms": "Latin-script terms written inside the Korean text (deterministic).",
    "tldr": "One-sentence English summary (LLM).",
    "topic": "Primary topic from the fixed taxonomy (LLM).",
    "tasks": "Tasks or applications addressed (LLM).",
    "methods": "Methods, models and techniques (LLM).",
    "datasets": "Datasets used or released (LLM).",
    "benchmarks": "Evaluation benchmarks (LLM).",
    "metrics": "Evaluation metrics (LLM).",
    "key_results": "Main quantitative results; every value occurs in the source text (LLM, checked).",
    "model_sizes": "Parameter counts, e.g. 7B (LLM, checked against the source numbers).",
    "keywords": "English search keywords (LLM).",
    "field_sources": "Which fields came from the deterministic extractor and which from the LLM.",
    "llm_status": "ok: LLM fields present; failed: the LLM output was refused, truncated or invalid (see flags); "
    "skipped: no LLM used.",
    "flags": "Problems found, e.g. llm_refused, llm_truncated, llm_invalid_output, key_result_not_in_source:<value>.",
    "model": "Chat model that produced the LLM fields.",
    "cache_key": "Cache key of the LLM result (entry content, text used, model, prompt, schema, temperature).",
}


def metadata_json_schema() -> dict[str, Any]:
    """JSON schema of one line of ``metadata.jsonl`` (published as docs/metadata.schema.json)."""
    schema = Metadata.model_json_schema()
    props = schema.get("properties", {})
    for name, doc in _FIELD_DOCS.items():
        if name in props:
            props[name]["description"] = doc
    if "topic" in props:
        props["topic"] = {
            "anyOf": [{"enum": [t.value for t in Topic], "type": "string"}, {"type": "null"}],
            "default": None,
            "description": _FIELD_DOCS["topic"],
            "title": "Topic",
        }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **schema,
        "description": "Structured metadata of one paper: one JSON object per line of metadata.jsonl.",
    }


def metadata_schema_text() -> str:
    return json.dumps(metadata_json_schema(), indent=2, ensure_ascii=False) + "\n"
