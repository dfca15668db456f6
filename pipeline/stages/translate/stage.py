"""Translate stage: ``entries.jsonl`` -> ``translations.jsonl`` (one SectionTranslation per
section of every entry).

Sections are split when too long, packed several to a request within a token budget, and
sent with only the glossary entries that occur in them (``plan.py``).  Every reply is
checked (ids line up, no Hangul left, numbers kept, glossary used); a bad reply is retried
in smaller groups, a bad segment re-asked with its problems named, within a retry budget,
then kept and flagged (``engine.py``).  Each result is journaled as it arrives
(``cache/translate.jsonl``, keyed per segment by source text, model, prompt, glossary entries
and temperature), so a re-run costs nothing and a killed run resumes.  A request that fails
even after retries leaves its sections untranslated (flagged, exit 4) and the stage goes on,
unless the abort policy or the cost limit stops it (``stages/base.py``, ``stages/budget.py``).
"""

from __future__ import annotations

import logging

from ...batch.ledger import warn_pending
from ...errors import Interrupted, LLMError
from ...llm.client import LLM, make_llm
from ...progress import Progress
from ...records import SectionTranslation
from ...settings import SEEDS_MEMORY, Settings
from ...store.journal import JsonlCache
from ...store.jsonl import content_hash, write_jsonl_atomic
from ...store.layout import OutDir
from ...store.lock import output_lock
from ...text.segments import Segment, join_parts
from ..base import Estimate, JobOutcome, JobSkipped, estimate_requests, run_jobs
from ..budget import Budget
from ..policy import AbortPolicy, record_usage
from .engine import SegResult, Translator
from .plan import SectionPlan, Work, cached_result, fit_to_endpoint, journal_results, plan_work
from .report import TranslateReport
from .request import build_messages, expected_output_tokens, schema_tokens

log = logging.getLogger(__name__)


def translate_stage(settings: Settings, *, dry_run: bool = False, llm: LLM | None = None) -> TranslateReport:
    """``digest translate``: translate every section of ``OUT/entries.jsonl``."""
    out_dir = OutDir(settings.out_dir)
    report = TranslateReport(dry_run=dry_run, reviewed_memory=SEEDS_MEMORY)
    with output_lock(settings.out_dir):
        work = plan_work(settings, write_glossary=not dry_run)
        report.glossary_terms, report.glossary_added = len(work.glossary), work.glossary_added
        report.glossary_path = work.glossary.path
        report.segments_sent, report.batches = len(work.todo), len(work.batches)
        if dry_run:
            _estimate(settings, work).apply_to(report)
            _count_origins(report, work)
            return report
        if work.todo:
            warn_pending(settings, "translate", set(work.todo), "segments")

        fresh: dict[str, SegResult] = {}
        if work.batches:
            llm = llm or make_llm(settings)
            fit_to_endpoint(settings, llm, work)  # smaller requests for a small or slow server
            report.batches = len(work.batches)
            _send_all(settings, llm, work, fresh, report)

        model = settings.llm.chat_model
        records = [_assemble(plan, work.journal, fresh, model, report) for plan in work.plans]
        write_jsonl_atomic(out_dir.translations_path, records)
        report.out_path = out_dir.translations_path
        report.sections = len(records)
    return report


def _send_all(
    settings: Settings, llm: LLM, work: Work, fresh: dict[str, SegResult], report: TranslateReport
) -> None:
    """Send every batch under the abort policy and the budget; journal results as they come."""
    planned = _estimate(settings, work)
    log.info("translate: %d segments in %s", len(work.todo), planned.describe())
    planned.warn_over(settings.llm.max_cost, "translate")
    budget = Budget(settings, llm.meter, planned.prompt_tokens)
    translator = Translator(
        llm, work.prompt, budget=budget, max_requests=settings.translate.max_requests_per_segment
    )
    policy = AbortPolicy(settings.llm.abort_after_failures)
    before = llm.meter.snapshot()
    try:
        _run(settings, translator, policy, budget, work, fresh, report)
    except KeyboardInterrupt:
        raise Interrupted(
            f"translate interrupted: {report.saved} segments translated and journaled before the interrupt, "
            f"{len(work.todo) - report.saved} left; the requests in flight were abandoned"
        ) from None
    finally:
        after = llm.meter.snapshot()
        record_usage(report, before, after, settings)
        report.http_retries = after["retries"] - before["retries"]
        report.regroups, report.fix_retries = translator.regroups, translator.fix_retries
        report.gave_up = translator.gave_up
    policy.raise_if_fatal(report.saved)
    report.failed_batches = policy.failures
    report.stopped = policy.stopped_early and f"stopped: {policy.stopped_early}" or budget.halted or ""
    report.cost_stop = budget.halted is not None and not policy.stopped_early
    if policy.every_request_failed and policy.last is not None:
        report.all_failed = str(policy.last)
    report.endpoint_works = policy.endpoint_works


def _run(
    settings: Settings,
    translator: Translator,
    policy: AbortPolicy,
    budget: Budget,
    work: Work,
    fresh: dict[str, SegResult],
    report: TranslateReport,
) -> None:
    """Send every batch; journal each result as it arrives.  A batch whose request fails even
    after retries, or that got no usable reply, counts as failed for the abort policy; its
    segments are journaled as failed (a re-run retries them)."""
    model = settings.llm.chat_model

    def job(batch: list[Segment]) -> dict[str, SegResult]:
        policy.check()
        return translator.translate_batch(batch)

    def on_result(outcome: JobOutcome[list[Segment], dict[str, SegResult]]) -> None:
        batch = outcome.job
        if isinstance(outcome.error, JobSkipped):  # not attempted: the run is stopping
            return
        if outcome.error is not None:
            err = policy.failed(outcome.error)
            log.error("translation request for %d segments failed: %s", len(batch), err)
            results = {s.key: SegResult(s.text, [f"untranslated: {err}"], ok=False) for s in batch}
        else:
            results = outcome.result or {}
            if any(r.ok for r in results.values()):
                policy.succeeded()
            elif any(r.tried for r in results.values()):  # no usable reply at all
                reason = next(r.flags[0] for r in results.values() if r.tried and r.flags)
                policy.failed(LLMError(reason.removeprefix("untranslated: ")), answered=True)
        fresh.update(results)
        report.saved += journal_results(work.journal, results, model)
        for seg in batch:
            if seg.last_part:
                (progress.advance if results[seg.key].ok else progress.fail)(1)

    total = sum(1 for b in work.batches for s in b if s.last_part)
    with Progress(total, "translate", mode=settings.progress, unit="section") as progress:
        run_jobs(
            work.batches,
            job,
            concurrency=max(1, settings.llm.concurrency),
            on_result=on_result,
            cancel=budget.cancelled,
            on_cancel=lambda: translator.llm.client.close(),
        )


def _assemble(
    plan: SectionPlan,
    journal: JsonlCache,
    fresh: dict[str, SegResult],
    model: str,
    report: TranslateReport,
) -> SectionTranslation:
    section = plan.entry.sections[plan.index]
    base = {
        "entry_id": plan.entry.id,
        "index": plan.index,
        "label": section.label,
        "source_hash": plan.source_hash,
    }
    if plan.origin is not None:
        report.origins[plan.origin] += 1
        if plan.memory_path is not None:
            report.memory_files[plan.memory_path] += 1
        report.translated += 1
        return SectionTranslation(**base, text=plan.text or "", origin=plan.origin)  # type: ignore[arg-type]
    parts: list[tuple[str, str]] = []
    flags: list[str] = []
    origins: set[str] = set()
    used_model: str | None = None
    untranslated = tried = False
    for seg, joiner in plan.segments:
        if seg.part in plan.memory_parts:
            parts.append((plan.memory_parts[seg.part], joiner))
            origins.add("memory")
            continue
        r = fresh.get(seg.key)
        if r is not None and r.ok:
            origins.add("model")
            text, seg_flags, used_model = r.text, r.flags, model
        elif cached_result(journal, seg.key):
            value = journal.get(seg.key)
            origins.add("cache")
            text, seg_flags = value["text"], list(value.get("flags") or [])
            used_model = value.get("model") or model
        else:
            text = seg.text
            seg_flags = (
                r.flags if r is not None else ["untranslated: not attempted (the stage stopped first)"]
            )
            origins.add("model")
            untranslated = True
            tried = tried or (r is not None and r.tried)
        prefix = f"part {seg.part + 1}/{seg.parts}: " if seg.parts > 1 else ""
        flags.extend(prefix + f for f in seg_flags)
        parts.append((text, joiner))
    origin = "model" if "model" in origins else "cache" if "cache" in origins else "memory"
    if untranslated:
        report.untranslated += 1
        report.not_attempted += not tried
    else:
        report.origins[origin] += 1
        if flags:
            report.flagged += 1
        else:
            report.translated += 1
    key = (
        plan.segments[0][0].key
        if len(plan.segments) == 1
        else content_hash([s.key for s, _ in plan.segments])
    )
    return SectionTranslation(
        **base,
        text=join_parts(parts),
        origin=origin,
        model=used_model,
        cache_key=key,
        flags=flags,  # type: ignore[arg-type]
    )


def _count_origins(report: TranslateReport, work: Work) -> None:
    todo = set(work.todo)
    for plan in work.plans:
        report.sections += 1
        if plan.origin:
            report.origins[plan.origin] += 1
            if plan.memory_path is not None:
                report.memory_files[plan.memory_path] += 1
        elif any(s.key in todo for s, _ in plan.segments):
            report.origins["model"] += 1
        elif all(s.part in plan.memory_parts for s, _ in plan.segments):
            report.origins["memory"] += 1
        else:
            report.origins["cache"] += 1


def _estimate(settings: Settings, work: Work) -> Estimate:
    """The first try of every request: what ``--dry-run`` shows and the retry budget's base."""
    requests = (
        (build_messages(work.prompt, batch)[0], expected_output_tokens(batch)) for batch in work.batches
    )
    return estimate_requests(settings, requests, extra_prompt_tokens=schema_tokens(settings.llm.chat_model))
