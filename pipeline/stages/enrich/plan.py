"""Planning an enrich run: the request of each entry (the paper as data inside ``<paper>``
tags, in English where a current translation exists), its cache key, and the LLM results
already journaled in ``OUT/cache/enrich.jsonl``.  The online and the batch path share it."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from ... import taxonomy
from ...prompts import load_prompt
from ...records import Entry, Metadata, SectionTranslation
from ...settings import Settings
from ...store.journal import JsonlCache
from ...store.jsonl import content_hash
from ...store.layout import OutDir
from ...text.escape import escape_data
from ...text.hangul import has_hangul
from .engine import merge_llm
from .extract import extract_metadata
from .schema import SCHEMA_NAME, LLMMetadata, llm_schema_sha

log = logging.getLogger(__name__)

MAX_OUTPUT_TOKENS = 1500  # a metadata object is ~300-600 tokens; doubled once on truncation


def _translation_text(
    entry: Entry, translations: dict[tuple[str, int], SectionTranslation]
) -> list[str | None]:
    """English text per section when a translation of the *current* Korean text exists."""
    out: list[str | None] = []
    for i, s in enumerate(entry.sections):
        tr = translations.get((entry.id, i))
        fresh = tr is not None and tr.source_hash in _source_hashes(s.text)
        out.append(tr.text if fresh and tr.text.strip() and not has_hangul(tr.text) else None)
    return out


def _source_hashes(text: str) -> set[str]:
    return {content_hash(text)}  # as translate.py computes SectionTranslation.source_hash


def paper_block(entry: Entry, english: list[str | None]) -> str:
    """The user message: the paper as data inside ``<paper id=...>`` tags."""
    return _block(entry, [(s.label, en or s.text) for s, en in zip(entry.sections, english, strict=True)])


def _block(entry: Entry, sections: list[tuple[str | None, str]]) -> str:
    lines = [f"Title: {escape_data(entry.title)}", ""]
    for label, text in sections:
        text = escape_data(" ".join(text.split()))
        lines.append(f"- {label}: {text}" if label else f"- {text}")
    return f'<paper id="{escape_data(entry.id, attribute=True)}">\n' + "\n".join(lines) + "\n</paper>"


def shorter_messages(job: Job) -> list[dict]:
    """The request of a paper over the model's context window, about half as long: only the
    sections that have English (the Korean dropped) when any has, the longest sections cut
    first (at a word, marked with "...")."""
    entry, english = job.entry, job.english
    if any(english):
        sections = [(s.label, en) for s, en in zip(entry.sections, english, strict=True) if en]
    else:
        sections = [(s.label, s.text) for s in entry.sections]
    texts = [" ".join(t.split()) for _, t in sections]
    budget = sum(len(t) for t in texts) // 2
    cap = max((len(t) for t in texts), default=0)
    while cap > 40 and sum(min(len(t), cap) for t in texts) > budget:  # the longest cut first
        cap = int(cap * 0.9)
    cut = [t if len(t) <= cap else t[:cap].rsplit(" ", 1)[0] + " ..." for t in texts]
    paper = _block(entry, [(label, t) for (label, _), t in zip(sections, cut, strict=True)])
    return [job.messages[0], {"role": "user", "content": paper}]


@dataclass
class Job:
    entry: Entry
    key: str
    messages: list[dict]
    english: list[str | None]


def request_params(job: Job) -> dict[str, Any]:
    """The structured-output request of one job: online (``LLM.complete_json``) and in a
    Batch API line (``LLM.structured_body``) alike."""
    return {
        "messages": job.messages,
        "model_cls": LLMMetadata,
        "schema_name": SCHEMA_NAME,
        "max_tokens": MAX_OUTPUT_TOKENS,
    }


def _system_prompt(settings: Settings) -> tuple[str, str]:
    prompt = load_prompt(settings, settings.enrich.prompt)
    return prompt.text.replace("{topics}", taxonomy.describe()), prompt.sha


def cache_key(
    entry: Entry, paper: str, model: str, prompt_sha: str, schema_sha: str, temperature: float
) -> str:
    return content_hash(entry.content_hash, paper, model, prompt_sha, schema_sha, temperature)


def _load_translations(settings: Settings) -> dict[tuple[str, int], SectionTranslation]:
    return {(t.entry_id, t.index): t for t in OutDir(settings.out_dir).load_translations()}


def journal(settings: Settings) -> JsonlCache:
    return JsonlCache(OutDir(settings.out_dir).journal_path("enrich"))


def store_result(cache: JsonlCache, key: str, value: LLMMetadata) -> None:
    """Journal a validated LLM result; the next run merges it from the cache."""
    cache.put(key, value.model_dump(mode="json"))


def store_failure(cache: JsonlCache, key: str, reason: str) -> None:
    """Journal an entry whose LLM fields failed, with why: not a result, the next run retries it."""
    cache.put(key, {"failed": reason[:400]})


def from_journal(cache: JsonlCache, key: str) -> LLMMetadata | None:
    raw = cache.get(key)
    if raw is None or (isinstance(raw, dict) and "failed" in raw):
        return None
    try:
        return LLMMetadata.model_validate(raw)
    except Exception:  # written by an older schema: treat as a miss
        return None


@dataclass
class Plan:
    """The requests an enrich run still has to make, and what the journal already gave."""

    jobs: list[Job] = field(default_factory=list)
    from_cache: int = 0  # entries whose LLM fields came from the journal
    english_inputs: int = 0  # entries whose request holds English (translated) text
    rejected_values: int = 0  # values of journaled results dropped: not in the source


def plan(settings: Settings, entries: list[Entry], metas: dict[str, Metadata], model: str) -> Plan:
    """Apply journaled LLM results to ``metas``; return the jobs still to run."""
    system, prompt_sha = _system_prompt(settings)
    prompt_sha = content_hash(prompt_sha, system)  # the taxonomy text is part of the prompt
    schema_sha = llm_schema_sha()
    translations = _load_translations(settings)
    cache = journal(settings)
    out = Plan()
    for e in entries:
        english = _translation_text(e, translations)
        if any(english):
            out.english_inputs += 1
        paper = paper_block(e, english)
        key = cache_key(e, paper, model, prompt_sha, schema_sha, settings.llm.temperature)
        meta = metas[e.id]
        meta.model, meta.cache_key = model, key
        cached = from_journal(cache, key)
        if cached is not None:
            out.from_cache += 1
            out.rejected_values += merge_llm(meta, cached, e, english)
            continue
        messages = [{"role": "system", "content": system}, {"role": "user", "content": paper}]
        out.jobs.append(Job(e, key, messages, english))
    if not out.jobs:
        log.info("enrich: all %d entries from cache, no request", len(entries))
    return out


def plan_jobs(settings: Settings) -> tuple[list[Entry], Plan]:
    """The entries, and the LLM requests an enrich run would make now (not journaled yet)."""
    entries = OutDir(settings.out_dir).load_entries()
    metas = {e.id: extract_metadata(e) for e in entries}
    return entries, plan(settings, entries, metas, settings.llm.chat_model)
