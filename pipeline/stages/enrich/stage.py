"""Enrich stage: every entry -> one ``Metadata`` record in ``OUT/metadata.jsonl``.

Deterministic fields (``extract.py``) are always there; the LLM adds a TL;DR, a topic
from the fixed taxonomy, tasks, methods, datasets, benchmarks, metrics, key results,
model sizes and keywords through strict structured output (``schema.py``).  A key result
whose value is not written in the source text is dropped and flagged: no invented numbers
(``engine.py``).  LLM results are journaled in ``OUT/cache/enrich.jsonl`` as they arrive
(``plan.py``), so a re-run makes no request and a killed run resumes where it stopped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...batch.ledger import warn_pending
from ...errors import CostLimitError, Interrupted, LLMError
from ...llm.client import LLM, make_llm
from ...progress import Progress
from ...records import Metadata
from ...settings import Settings
from ...store.jsonl import write_jsonl_atomic
from ...store.layout import OutDir
from ...store.lock import output_lock
from ..base import Estimate, JobOutcome, JobSkipped, estimate_requests, run_jobs
from ..budget import Budget
from ..policy import AbortPolicy, record_usage, stage_failure
from .ask import Asked, Enricher, schema_tokens
from .engine import failure_flags, merge_llm
from .extract import extract_metadata
from .plan import Job, Plan, journal, plan, plan_jobs, shorter_messages, store_failure, store_result

log = logging.getLogger(__name__)

EST_OUTPUT_TOKENS = 450  # --dry-run: completion tokens of one metadata object


@dataclass
class EnrichReport:
    entries: int = 0
    llm_ok: int = 0
    llm_failed: int = 0
    llm_not_attempted: int = 0  # never sent: the stage stopped first (abort policy, cost limit)
    llm_skipped: int = 0
    from_cache: int = 0
    requests: int = 0
    saved: int = 0  # LLM results journaled by this run
    stopped: str = ""  # why the stage stopped early
    cost_stop: bool = False
    all_failed: str = ""  # every request failed: the last error
    endpoint_works: bool = True  # the endpoint answered (usably or not): later stages may go on
    shortened: int = 0  # papers shortened to fit the model's context window
    rejected_values: int = 0
    english_inputs: int = 0
    flags: dict[str, int] = field(default_factory=dict)
    usage: dict[str, Any] = field(default_factory=dict)
    out_path: Path | None = None
    note: str = ""
    dry_run: bool = False
    prompt_tokens: int = 0  # spent (--dry-run: estimated)
    completion_tokens: int = 0
    cost: float = 0.0
    batch_cost: float = 0.0
    price_basis: str = ""  # --dry-run: model and prices the cost is estimated with

    @property
    def exit_code(self) -> int:
        if self.cost_stop:
            return CostLimitError.exit_code
        return LLMError.exit_code if self.llm_failed or self.llm_not_attempted else 0

    @property
    def left(self) -> str:
        """What a re-run still has to do ("" when nothing)."""
        n = self.llm_failed + self.llm_not_attempted
        return f"{n} entries without LLM fields" if n and not self.dry_run else ""

    @property
    def failure(self) -> str:
        """Why the stage failed as a whole ("" when it did not): stopped early, or every
        request failed; and whether anything was saved."""
        return stage_failure("enrich", self.stopped, self.all_failed, self.saved, "entries")

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
        if self.llm_ok or self.llm_failed or self.llm_not_attempted:
            parts.append(
                f"LLM fields for {self.llm_ok} ({self.from_cache} from cache, {self.requests} requests)"
            )
        if self.llm_failed:
            parts.append(f"{self.llm_failed} failed (kept with deterministic fields; re-run to retry)")
        if self.llm_not_attempted:
            parts.append(f"{self.llm_not_attempted} not attempted (deterministic fields only)")
        if self.requests:
            parts.append(
                f"{self.prompt_tokens} prompt + {self.completion_tokens} completion tokens, ${self.cost:.4f}"
            )
        if self.llm_skipped:
            parts.append(f"{self.llm_skipped} with deterministic fields only (no LLM request)")
        if self.shortened:
            parts.append(f"{self.shortened} papers shortened to fit the model's context window")
        if self.rejected_values:
            parts.append(f"{self.rejected_values} values not found in the source were dropped")
        if self.note:
            parts.append(self.note)
        return "; ".join(parts)


def _llm_configured(settings: Settings) -> bool:
    cfg = settings.llm
    return cfg.provider == "mock" or cfg.api_key is not None or cfg.base_url is not None


def enrich_stage(
    settings: Settings, *, llm: LLM | None = None, use_llm: bool = True, dry_run: bool = False
) -> EnrichReport:
    """``digest enrich``: write ``OUT/metadata.jsonl``, one ``Metadata`` per entry.

    With ``use_llm=False`` no request is made: LLM fields already in the cache are
    still used, the other entries get deterministic fields only.  ``dry_run``: estimate
    the requests, tokens and cost (online and Batch API); call nothing, write nothing."""
    if dry_run:
        entries, planned = plan_jobs(settings)
        report = EnrichReport(entries=len(entries), dry_run=True)
        _count_planned(report, planned)
        _estimate(settings, planned.jobs).apply_to(report)
        return report
    with output_lock(settings.out_dir):
        entries = OutDir(settings.out_dir).load_entries()
        report = EnrichReport(entries=len(entries))
        metas = {e.id: extract_metadata(e) for e in entries}
        planned = plan(settings, entries, metas, llm.model if llm else settings.llm.chat_model)
        _count_planned(report, planned)
        jobs = planned.jobs
        if jobs and use_llm and llm is None and not _llm_configured(settings):
            use_llm = False
            report.note = (
                "no LLM configured (set OPENAI_API_KEY or --base-url, or use --llm mock), so those "
                "entries have deterministic fields only; pass --no-llm to silence this"
            )
            log.warning("%s", report.note)
        if jobs and use_llm:
            warn_pending(settings, "enrich", {j.key for j in jobs}, "entries")
            _run_llm(settings, jobs, metas, report, llm or make_llm(settings))
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


def _count_planned(report: EnrichReport, planned: Plan) -> None:
    report.from_cache += planned.from_cache
    report.llm_ok += planned.from_cache
    report.english_inputs += planned.english_inputs
    report.rejected_values += planned.rejected_values


def _run_llm(
    settings: Settings, jobs: list[Job], metas: dict[str, Metadata], report: EnrichReport, llm: LLM
) -> None:
    cache = journal(settings)
    before = llm.meter.snapshot()
    planned = _estimate(settings, jobs)
    log.info("enrich: %d entries in %s", len(jobs), planned.describe())
    planned.warn_over(settings.llm.max_cost, "enrich")
    budget = Budget(settings, llm.meter, planned.prompt_tokens)
    enricher = Enricher(
        llm, budget=budget, max_requests=settings.enrich.max_requests_per_entry, shorten=shorter_messages
    )
    policy = AbortPolicy(settings.llm.abort_after_failures)
    attempted: set[str] = set()

    def call(job: Job) -> Asked:
        policy.check()
        return enricher.ask(job)

    def on_result(out: JobOutcome[Job, Asked]) -> None:
        job = out.job
        meta = metas[job.entry.id]
        if isinstance(out.error, JobSkipped):
            return
        attempted.add(job.key)
        if out.error is not None:
            err = policy.failed(out.error)
            log.warning("enrich %s: LLM call failed: %s", job.entry.id, err)
            _failed(meta, report, ["llm_error"])
            store_failure(cache, job.key, str(err))
            return
        asked = out.result
        assert asked is not None
        res = asked.result
        if asked.shortened:
            report.shortened += 1
            meta.flags.append("llm_input_shortened")
        if res.ok:
            policy.succeeded()
            store_result(cache, job.key, res.value)
            report.saved += 1
            report.llm_ok += 1
            report.rejected_values += merge_llm(meta, res.value, job.entry, job.english)
            return
        flags = failure_flags(res)
        reason = "; ".join(res.errors)[:300]
        policy.failed(
            LLMError(f"no usable reply in {asked.requests} requests ({', '.join(flags)})"), answered=True
        )
        log.warning(
            "enrich %s: %s after %d requests: %s", job.entry.id, ", ".join(flags), asked.requests, reason
        )
        _failed(meta, report, flags)
        store_failure(cache, job.key, f"{', '.join(flags)}: {reason}")

    with Progress(len(jobs), "enrich", mode=settings.progress, unit="paper") as progress:
        try:
            run_jobs(
                jobs,
                call,
                concurrency=settings.llm.concurrency,
                progress=progress,
                on_result=on_result,
                cancel=budget.cancelled,
                on_cancel=lambda: llm.client.close(),
            )
        except KeyboardInterrupt:
            raise Interrupted(
                f"enrich interrupted: LLM fields of {report.saved} entries journaled before the interrupt, "
                f"{len(jobs) - report.saved} left; the requests in flight were abandoned"
            ) from None
        finally:
            report.usage = after = llm.meter.snapshot()
            record_usage(report, before, after, settings)
    policy.raise_if_fatal(report.saved)
    for job in jobs:
        if job.key not in attempted:  # never sent: the stage stopped first
            meta = metas[job.entry.id]
            meta.model = meta.cache_key = None
            meta.flags.append("llm_not_attempted")
            report.llm_not_attempted += 1
    report.stopped = policy.stopped_early and f"stopped: {policy.stopped_early}" or budget.halted or ""
    report.cost_stop = budget.halted is not None and not policy.stopped_early
    if policy.every_request_failed and policy.last is not None:
        report.all_failed = str(policy.last)
    report.endpoint_works = policy.endpoint_works


def _failed(meta: Metadata, report: EnrichReport, flags: list[str]) -> None:
    meta.llm_status = "failed"
    meta.flags.extend(flags)
    report.llm_failed += 1


def _estimate(settings: Settings, jobs: list[Job]) -> Estimate:
    """The first request of every entry: what ``--dry-run`` shows and the retry budget's base."""
    return estimate_requests(
        settings,
        ((job.messages, EST_OUTPUT_TOKENS) for job in jobs),
        extra_prompt_tokens=schema_tokens(settings.llm.chat_model),
    )
