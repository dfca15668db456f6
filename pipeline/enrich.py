"""Enrich stage: every entry -> one ``Metadata`` record in ``OUT/metadata.jsonl``.

Deterministic fields (``extract.py``) are always there; the LLM adds a TL;DR, a topic
from the fixed taxonomy, tasks, methods, datasets, benchmarks, metrics, key results,
model sizes and keywords through strict structured output.  A key result whose value
is not written in the source text is dropped and flagged: no invented numbers.
LLM results are journaled in ``OUT/cache/enrich.jsonl`` as they arrive, so a re-run
makes no request and a killed run resumes where it stopped.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from . import taxonomy
from .errors import ConfigError, DigestError, LLMError
from .extract import extract_metadata
from .progress import Progress
from .records import Entry, KeyResult, Metadata, SectionTranslation
from .runner import JobOutcome, JobSkipped, run_jobs
from .settings import Settings
from .store.journal import JsonlCache
from .store.jsonl import content_hash, write_jsonl_atomic
from .store.layout import OutDir
from .store.lock import output_lock
from .taxonomy import Topic
from .text.escape import escape_data
from .text.hangul import has_hangul
from .text.numbers import supported_numbers, value_in_source

if TYPE_CHECKING:
    from .llm import LLM

log = logging.getLogger(__name__)

SCHEMA_NAME = "paper_metadata"
MAX_OUTPUT_TOKENS = 1500  # a metadata object is ~300-600 tokens; doubled once on truncation
LLM_ROUNDS = 2  # conversations per entry (each: one request + one re-ask)
# stop after this many calls in a row failed even after the SDK's retries (endpoint down):
# the rest would only fail the same way, each after its own retries
ABORT_AFTER_FAILURES = 4
EST_OUTPUT_TOKENS = 450  # --dry-run: completion tokens of one metadata object
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


# -- what the LLM returns ------------------------------------------------------------------


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
    from .llm.structured import strict_json_schema

    return content_hash(strict_json_schema(LLMMetadata))


# -- the published schema of Metadata -------------------------------------------------------

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


# -- report ---------------------------------------------------------------------------------


@dataclass
class EnrichReport:
    entries: int = 0
    llm_ok: int = 0
    llm_failed: int = 0
    llm_skipped: int = 0
    from_cache: int = 0
    requests: int = 0
    rejected_values: int = 0
    english_inputs: int = 0
    flags: dict[str, int] = field(default_factory=dict)
    usage: dict[str, Any] = field(default_factory=dict)
    out_path: Path | None = None
    note: str = ""
    dry_run: bool = False
    prompt_tokens: int = 0  # --dry-run estimates
    completion_tokens: int = 0
    cost: float = 0.0
    batch_cost: float = 0.0
    price_basis: str = ""  # --dry-run: model and prices the cost is estimated with

    @property
    def exit_code(self) -> int:
        return LLMError.exit_code if self.llm_failed else 0

    def summary(self) -> str:
        if self.dry_run:
            return (
                f"dry run: {self.entries} entries, {self.from_cache} cached; {self.requests} requests to make; "
                f"estimated {self.prompt_tokens} prompt + {self.completion_tokens} completion tokens, "
                f"~${self.cost:.4f} online, ~${self.batch_cost:.4f} with --batch (Batch API, half price) "
                f"for {self.price_basis}"
            )
        where = f" -> {self.out_path}" if self.out_path else ""
        parts = [f"enriched {self.entries} entries{where}"]
        if self.llm_ok or self.llm_failed:
            parts.append(
                f"LLM fields for {self.llm_ok} ({self.from_cache} from cache, {self.requests} requests)"
            )
        if self.llm_failed:
            parts.append(f"{self.llm_failed} failed (kept with deterministic fields; re-run to retry)")
        if self.llm_skipped:
            parts.append(f"{self.llm_skipped} with deterministic fields only (no LLM request)")
        if self.rejected_values:
            parts.append(f"{self.rejected_values} values not found in the source were dropped")
        if self.note:
            parts.append(self.note)
        return "; ".join(parts)


# -- building the request -------------------------------------------------------------------


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
    lines = [f"Title: {escape_data(entry.title)}", ""]
    for s, en in zip(entry.sections, english, strict=True):
        text = escape_data(" ".join((en or s.text).split()))
        lines.append(f"- {s.label}: {text}" if s.label else f"- {text}")
    return f'<paper id="{escape_data(entry.id, attribute=True)}">\n' + "\n".join(lines) + "\n</paper>"


@dataclass
class _Job:
    entry: Entry
    key: str
    messages: list[dict]
    english: list[str | None]


def request_params(job: _Job) -> dict[str, Any]:
    """The structured-output request of one job: online (``LLM.complete_json``) and in a
    Batch API line (``LLM.structured_body``) alike."""
    return {
        "messages": job.messages,
        "model_cls": LLMMetadata,
        "schema_name": SCHEMA_NAME,
        "max_tokens": MAX_OUTPUT_TOKENS,
    }


def store_result(cache: JsonlCache, key: str, value: LLMMetadata) -> None:
    """Journal a validated LLM result; the next run merges it from the cache."""
    cache.put(key, value.model_dump(mode="json"))


def _system_prompt(settings: Settings) -> tuple[str, str]:
    from .prompts import load_prompt

    prompt = load_prompt(settings, settings.enrich.prompt)
    return prompt.text.replace("{topics}", taxonomy.describe()), prompt.sha


def cache_key(
    entry: Entry, paper: str, model: str, prompt_sha: str, schema_sha: str, temperature: float
) -> str:
    return content_hash(entry.content_hash, paper, model, prompt_sha, schema_sha, temperature)


# -- merging ----------------------------------------------------------------------------------


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
    """Copy the LLM fields into ``meta``; drop numbers that the source does not contain.
    Returns the number of values dropped."""
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

    meta.tldr = value.tldr
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


def _failure_flags(res: Any) -> list[str]:
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


# -- the stage --------------------------------------------------------------------------------


def _llm_configured(settings: Settings) -> bool:
    cfg = settings.llm
    return cfg.provider == "mock" or cfg.api_key is not None or cfg.base_url is not None


def _load_translations(settings: Settings) -> dict[tuple[str, int], SectionTranslation]:
    return {(t.entry_id, t.index): t for t in OutDir(settings.out_dir).load_translations()}


def plan_jobs(settings: Settings, report: EnrichReport | None = None) -> list[_Job]:
    """The LLM requests an enrich run would make now (entries whose result is not cached)."""
    from .parse import load_entries

    entries = load_entries(settings)
    report = report or EnrichReport()
    report.entries = len(entries)
    metas = {e.id: extract_metadata(e) for e in entries}
    return _plan(settings, entries, metas, report, settings.llm.chat_model)


def enrich_stage(
    settings: Settings, *, llm: LLM | None = None, use_llm: bool = True, dry_run: bool = False
) -> EnrichReport:
    """``digest enrich``: write ``OUT/metadata.jsonl``, one ``Metadata`` per entry.

    With ``use_llm=False`` no request is made: LLM fields already in the cache are
    still used, the other entries get deterministic fields only.  ``dry_run``: estimate
    the requests, tokens and cost (online and Batch API); call nothing, write nothing."""
    from .parse import load_entries

    if dry_run:
        report = EnrichReport(dry_run=True)
        _estimate(settings, plan_jobs(settings, report), report)
        return report
    with output_lock(settings.out_dir):
        entries = load_entries(settings)
        report = EnrichReport(entries=len(entries))
        metas = {e.id: extract_metadata(e) for e in entries}

        jobs = _plan(settings, entries, metas, report, llm.model if llm else settings.llm.chat_model)
        if jobs and use_llm and llm is None and not _llm_configured(settings):
            use_llm = False
            report.note = (
                "no LLM configured (set OPENAI_API_KEY or --base-url, or use --llm mock), so those "
                "entries have deterministic fields only; pass --no-llm to silence this"
            )
            log.warning("%s", report.note)
        if jobs and use_llm:
            from .batch import warn_pending

            warn_pending(settings, "enrich", {j.key for j in jobs}, "entries")
            _run_llm(settings, jobs, metas, report, llm)
        else:
            report.llm_skipped = len(jobs)
            for job in jobs:
                metas[job.entry.id].model = metas[job.entry.id].cache_key = None

        out = OutDir(settings.out_dir).metadata_path
        write_jsonl_atomic(out, (metas[e.id] for e in entries))
        report.out_path = out
        for m in metas.values():
            for f in m.flags:
                name = f.split(":", 1)[0]
                report.flags[name] = report.flags.get(name, 0) + 1
    return report


def _plan(
    settings: Settings, entries: list[Entry], metas: dict[str, Metadata], report: EnrichReport, model: str
) -> list[_Job]:
    """Apply cached LLM results; return the jobs still to run."""
    system, prompt_sha = _system_prompt(settings)
    prompt_sha = content_hash(prompt_sha, system)  # the taxonomy text is part of the prompt
    schema_sha = llm_schema_sha()
    translations = _load_translations(settings)
    cache = _cache(settings)
    jobs: list[_Job] = []
    for e in entries:
        english = _translation_text(e, translations)
        if any(english):
            report.english_inputs += 1
        paper = paper_block(e, english)
        key = cache_key(e, paper, model, prompt_sha, schema_sha, settings.llm.temperature)
        meta = metas[e.id]
        meta.model, meta.cache_key = model, key
        cached = _from_cache(cache, key)
        if cached is not None:
            report.from_cache += 1
            report.llm_ok += 1
            report.rejected_values += merge_llm(meta, cached, e, english)
            continue
        messages = [{"role": "system", "content": system}, {"role": "user", "content": paper}]
        jobs.append(_Job(e, key, messages, english))
    if not jobs:
        log.info("enrich: all %d entries from cache, no request", len(entries))
    return jobs


def _cache(settings: Settings) -> JsonlCache:
    return JsonlCache(OutDir(settings.out_dir).journal_path("enrich"))


def _run_llm(
    settings: Settings, jobs: list[_Job], metas: dict[str, Metadata], report: EnrichReport, llm: LLM | None
) -> None:
    from .llm import make_llm

    if llm is None:
        llm = make_llm(settings)
    cache = _cache(settings)
    before = llm.meter.snapshot()["requests"]
    fatal: list[BaseException] = []
    failed_in_a_row = [0]

    def call(job: _Job) -> Any:
        if fatal:  # a bad setting or an endpoint that is down: the rest is not attempted
            raise JobSkipped()
        # a fresh conversation once more when the output was cut off or malformed (a flaky
        # endpoint); a refusal is final
        for _ in range(LLM_ROUNDS):
            res = llm.complete_json(**request_params(job), max_reasks=1)
            if res.ok or res.refused:
                break
        return res

    def on_result(out: JobOutcome[_Job, Any]) -> None:
        job = out.job
        meta = metas[job.entry.id]
        if isinstance(out.error, JobSkipped):
            return
        if out.error is not None:
            msg = str(out.error) if isinstance(out.error, DigestError) else type(out.error).__name__
            failed_in_a_row[0] += 1
            if not fatal and isinstance(out.error, ConfigError):
                fatal.append(out.error)
            elif not fatal and failed_in_a_row[0] >= ABORT_AFTER_FAILURES:
                fatal.append(
                    LLMError(
                        f"{msg} ({failed_in_a_row[0]} requests in a row failed; stopped) -- "
                        "finished work is saved; re-run to resume"
                    )
                )
            log.warning("enrich %s: LLM call failed: %s", job.entry.id, msg)
            meta.llm_status = "failed"
            meta.flags.append("llm_error")
            report.llm_failed += 1
            return
        failed_in_a_row[0] = 0
        res = out.result
        if res.ok:
            store_result(cache, job.key, res.value)
            report.llm_ok += 1
            report.rejected_values += merge_llm(meta, res.value, job.entry, job.english)
            return
        flags = _failure_flags(res)
        log.warning(
            "enrich %s: %s after %d attempts: %s",
            job.entry.id,
            ", ".join(flags),
            res.attempts,
            "; ".join(res.errors)[:300],
        )
        meta.llm_status = "failed"
        meta.flags.extend(flags)
        report.llm_failed += 1

    with Progress(len(jobs), "enrich", mode=settings.progress, unit="paper") as progress:
        run_jobs(jobs, call, concurrency=settings.llm.concurrency, progress=progress, on_result=on_result)
    after = llm.meter.snapshot()
    report.requests = after["requests"] - before
    report.usage = after
    if fatal:
        raise fatal[0]


def _estimate(settings: Settings, jobs: list[_Job], report: EnrichReport) -> None:
    from .llm import estimate_cost
    from .llm.structured import strict_json_schema
    from .llm.tokens import count_message_tokens, count_tokens
    from .llm.usage import price_basis

    model = settings.llm.chat_model
    report.price_basis = price_basis(settings.llm)
    schema_tokens = count_tokens(json.dumps(strict_json_schema(LLMMetadata)), model)
    for job in jobs:
        report.prompt_tokens += count_message_tokens(job.messages, model) + schema_tokens
        report.completion_tokens += EST_OUTPUT_TOKENS
    report.requests = len(jobs)
    report.cost = estimate_cost(report.prompt_tokens, report.completion_tokens, settings.llm)
    report.batch_cost = estimate_cost(
        report.prompt_tokens, report.completion_tokens, settings.llm, batch=True
    )


def _from_cache(cache: JsonlCache, key: str) -> LLMMetadata | None:
    raw = cache.get(key)
    if raw is None:
        return None
    try:
        return LLMMetadata.model_validate(raw)
    except Exception:  # written by an older schema: treat as a miss
        return None
