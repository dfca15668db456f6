"""What enrich does with an LLM result: merge it into the record, dropping values the source
does not state (no invented numbers), or name why it failed."""

from __future__ import annotations

from typing import Any

from ...records import Entry, KeyResult, Metadata
from ...text.escape import unescape_strings
from ...text.generated import check_generated
from ...text.numbers import supported_numbers, value_in_source
from .schema import LLM_FIELDS, LLMMetadata


def _clean_list(items: list[str]) -> list[str]:
    out: list[str] = []
    seen: set[str] = set()
    for it in items:
        v = " ".join(str(it).split()).strip(" ,;")
        if v and v.casefold() not in seen:
            seen.add(v.casefold())
            out.append(v)
    return out


def merge_llm(meta: Metadata, value: LLMMetadata, entry: Entry, english: list[str | None]) -> int:
    """Copy the LLM fields into ``meta``; drop numbers that the source does not contain, and
    a TL;DR that fails the generated-text check.  Returns the number of values dropped.  The
    paper went to the model escaped (``paper_block``): the reply's strings are unescaped
    here, once."""
    value = LLMMetadata.model_validate(unescape_strings(value.model_dump(mode="json")))
    korean = [entry.title, *(s.text for s in entry.sections)]
    english_texts = [e for e in english if e]
    numbers = supported_numbers(korean, english_texts)
    source_text = "\n".join([*korean, *english_texts])
    dropped = 0

    results: list[KeyResult] = []
    for kr in value.key_results:
        if value_in_source(kr.value, numbers, source_text):
            results.append(
                KeyResult(metric=kr.metric.strip(), value=kr.value.strip(), context=kr.context.strip())
            )
        else:
            dropped += 1
            meta.flags.append(f"key_result_not_in_source:{kr.value.strip()}")
    sizes: list[str] = []
    for size in _clean_list(value.model_sizes):
        if value_in_source(size, numbers, source_text):
            sizes.append(size)
        else:
            dropped += 1
            meta.flags.append(f"model_size_not_in_source:{size}")

    # the TL;DR is shown as written (newsletter, search): the same check as every generated
    # text; one that fails is left out (the newsletter falls back to the summary) and flagged
    problems = check_generated(
        value.tldr, language="en", source_numbers_=numbers, allowed_citations=[entry.arxiv_id or ""]
    )
    if problems:
        dropped += 1
        meta.flags += [f"tldr_rejected:{p}" for p in problems]
    meta.tldr = None if problems else value.tldr
    meta.topic = value.topic.value
    meta.tasks = _clean_list(value.tasks)
    meta.methods = _clean_list(value.methods)
    meta.datasets = _clean_list(value.datasets)
    meta.benchmarks = _clean_list(value.benchmarks)
    meta.metrics = _clean_list(value.metrics)
    meta.key_results = results
    meta.model_sizes = sizes
    meta.keywords = _clean_list(value.keywords)
    for name in LLM_FIELDS:
        if getattr(meta, name) not in (None, []):
            meta.field_sources[name] = "llm"
    meta.llm_status = "ok"
    return dropped


def failure_flags(res: Any) -> list[str]:
    """Why structured output failed: refused, truncated, and/or invalid on the last attempt."""
    flags = []
    if res.refused:
        flags.append("llm_refused")
    if res.truncated:
        flags.append("llm_truncated")
    last = [e for e in res.errors if e.startswith(f"attempt {res.attempts}:")]
    if not flags or not any("refused" in e or "finish_reason=length" in e for e in last):
        flags.append("llm_invalid_output")
    return flags
