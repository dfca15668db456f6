"""Submit, collect and report Batch API work of the LLM stages.

``submit_stage`` asks the stage's adapter for exactly the requests the online stage would
send (same prompts, packing and cache keys; already cached or pending work is skipped),
writes them to ``OUT/batches/<local id>.jsonl``, uploads the file and creates a batch.
Every step is recorded in the ledger before the next one starts, so an interrupted
submission is completed, never duplicated: an upload is found again by its file name, a
created batch by its input file.

``collect`` downloads finished batches and hands each reply to the adapter, which checks it
with the stage's own validation and journals it.  When no batch of a stage is still
pending, failed items go to the online path (the adapter runs the stage: it sends only
what is not cached and writes the stage output) or, with ``resubmit``, to a new batch.

A stage takes part by registering its adapter in :data:`ADAPTERS` (one line); the
orchestrator uses nothing else of it.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from ..errors import ConfigError, DigestError
from ..llm import batch_api as ba
from ..llm.client import LLM, make_llm
from ..llm.usage import estimate_cost
from ..settings import Settings
from ..stages.base import BatchAdapter, BatchRequest, Replies, Selection
from ..stages.enrich.batch import ADAPTER as ENRICH
from ..stages.translate.batch import ADAPTER as TRANSLATE
from ..store.jsonl import content_hash, write_text_atomic
from ..store.layout import OutDir
from ..store.lock import output_lock
from .ledger import FINAL_STATUSES, IN_FLIGHT, BatchRecord, Ledger
from .reports import CollectReport, StatusReport, SubmitReport

log = logging.getLogger(__name__)

ADAPTERS: dict[str, BatchAdapter] = {a.stage: a for a in (TRANSLATE, ENRICH)}
SEARCH_LIMIT = 2000  # remote files / batches scanned when resuming an interrupted submission


def adapter(stage: str) -> BatchAdapter:
    if stage not in ADAPTERS:
        raise ConfigError(f"no batch path for stage {stage!r}; known: {', '.join(ADAPTERS)}")
    return ADAPTERS[stage]


# -- submitting ---------------------------------------------------------------------------------


def submit_stage(settings: Settings, stage: str, *, llm: LLM | None = None) -> SubmitReport:
    """``digest translate --batch`` / ``digest enrich --batch``."""
    stage_adapter = adapter(stage)
    with output_lock(settings.out_dir):
        llm = llm or make_llm(settings)
        ledger = Ledger(settings.out_dir)
        report = SubmitReport(stage, unit=stage_adapter.unit)
        report.resumed = _resume_submissions(settings, llm, ledger)
        requests = stage_adapter.plan_requests(settings, llm, Selection(ledger.held_keys(stage)))
        if requests:
            report.submitted = _submit(settings, llm, ledger, stage, requests)
        report.pending = [r for r in ledger.records(stage) if r.state in IN_FLIGHT]
        return report


def _submit(
    settings: Settings,
    llm: LLM,
    ledger: Ledger,
    stage: str,
    requests: list[BatchRequest],
    resubmit_of: str | None = None,
) -> BatchRecord:
    data = "".join(
        json.dumps(ba.request_line(r.custom_id, r.body), ensure_ascii=False) + "\n" for r in requests
    )
    digest = content_hash(data.encode())
    now = datetime.now(UTC)
    local_id = f"{stage}-{now:%Y%m%dT%H%M%S%f}-{digest[:8]}"
    rel = OutDir.batch_request_file(local_id)
    write_text_atomic(settings.out_dir / rel, data)
    rec = BatchRecord(
        local_id=local_id,
        stage=stage,
        created=now,
        model=settings.llm.chat_model,
        request_file=rel,
        request_hash=digest,
        items={r.custom_id: r.item for r in requests},
        resubmit_of=resubmit_of,
    )
    ledger.add(rec)  # durable before anything leaves the machine
    log.info("%s: %d requests written to %s", stage, len(requests), rel)
    return _finish_submission(settings, llm, ledger, rec, resuming=False)


def _remote_name(rec: BatchRecord) -> str:
    return f"digest-{rec.local_id}.jsonl"


def _finish_submission(
    settings: Settings, llm: LLM, ledger: Ledger, rec: BatchRecord, *, resuming: bool
) -> BatchRecord:
    path = settings.out_dir / rec.request_file
    if rec.input_file_id is None:
        file_id = _find_upload(llm, rec) if resuming else None
        if file_id is None:
            if not path.is_file():
                raise DigestError(
                    f"batch request file {path} is missing; cannot finish submitting {rec.local_id}"
                )
            lines = [
                json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
            ]
            file_id = ba.upload_requests(llm, lines, filename=_remote_name(rec))
        rec = ledger.update(rec.local_id, state="uploaded", input_file_id=file_id)
    if rec.batch_id is None:
        batch = _find_batch(llm, rec.input_file_id or "") if resuming else None
        if batch is None:
            batch = ba.create_batch(
                llm, rec.input_file_id or "", metadata={"digest_batch": rec.local_id, "stage": rec.stage}
            )
        rec = ledger.update(
            rec.local_id,
            state="submitted",
            batch_id=batch.id,
            status=batch.status,
            request_counts=_counts(batch),
        )
        log.info("%s: batch %s created (%s)", rec.stage, batch.id, batch.status)
    return rec


def _find_upload(llm: LLM, rec: BatchRecord) -> str | None:
    """The file an interrupted run uploaded, by its unique name."""
    name = _remote_name(rec)
    with llm.raw_call():
        for n, f in enumerate(llm.client.files.list(purpose="batch")):
            if f.filename == name and f.purpose == "batch":
                log.info("found the upload of interrupted submission %s: %s", rec.local_id, f.id)
                return f.id
            if n >= SEARCH_LIMIT:
                break
    return None


def _find_batch(llm: LLM, file_id: str) -> Any:
    """The batch an interrupted run created from ``file_id``."""
    with llm.raw_call():
        for n, b in enumerate(llm.client.batches.list(limit=100)):
            if b.input_file_id == file_id:
                log.info("found the batch of interrupted submission: %s", b.id)
                return b
            if n >= SEARCH_LIMIT:
                break
    return None


def _resume_submissions(settings: Settings, llm: LLM, ledger: Ledger) -> list[BatchRecord]:
    done = []
    for rec in ledger.records():
        if rec.state in ("submitting", "uploaded"):
            log.warning("finishing interrupted submission %s (%s)", rec.local_id, rec.stage)
            done.append(_finish_submission(settings, llm, ledger, rec, resuming=True))
    return done


def _counts(batch: Any) -> dict[str, int]:
    rc = getattr(batch, "request_counts", None)
    if rc is None:
        return {}
    return {k: int(getattr(rc, k, 0) or 0) for k in ("total", "completed", "failed")}


# -- collecting ---------------------------------------------------------------------------------


def _download(llm: LLM, batch: Any) -> dict[str, tuple[dict[str, Any] | None, str]]:
    """custom_id -> (response body of a 200 reply, or None with why the request failed)."""
    out: dict[str, tuple[dict[str, Any] | None, str]] = {}
    for fid in (batch.output_file_id, batch.error_file_id):
        if not fid:
            continue
        for line in ba.download(llm, fid):
            cid = line.get("custom_id")
            if not isinstance(cid, str):
                continue
            resp = line.get("response") or {}
            err = line.get("error")
            if err:
                out[cid] = (None, f"{err.get('code') or 'error'}: {err.get('message') or ''}".strip()[:300])
            elif resp.get("status_code") != 200:
                body = resp.get("body") or {}
                msg = (body.get("error") or {}).get("message") if isinstance(body, dict) else ""
                out[cid] = (None, f"HTTP {resp.get('status_code')}: {msg or ''}".strip()[:300])
            else:
                out[cid] = (resp.get("body") or {}, "")
    return out


def _apply(
    settings: Settings, llm: LLM, ledger: Ledger, rec: BatchRecord, batch: Any, resubmit: bool
) -> BatchRecord:
    bodies = _download(llm, batch)
    if batch.status != "completed":
        log.warning("batch %s %s; its unfinished requests are handled as failures", rec.label, batch.status)
    replies = Replies(rec.items, bodies, model=rec.model, resubmit=resubmit)
    applied = adapter(rec.stage).apply(settings, llm, replies)
    if applied.stale:
        log.info("batch %s: %d results skipped (their digests changed)", rec.label, applied.stale)
    if applied.failed:
        reasons = sorted({why.split(":", 1)[0] for why in applied.failed.values()})
        log.warning(
            "batch %s: %d of %d requests failed (%s)",
            rec.label,
            len(applied.failed),
            len(rec.items),
            ", ".join(reasons),
        )
    for cid, why in applied.failed.items():
        log.debug("batch %s: request %s failed: %s", rec.label, cid, why)
    return ledger.update(
        rec.local_id,
        state="applied",
        succeeded=applied.succeeded,
        failed=applied.failed,
        fixes=applied.fixes,
        prompt_tokens=applied.prompt_tokens,
        completion_tokens=applied.completion_tokens,
        cost=estimate_cost(applied.prompt_tokens, applied.completion_tokens, settings.llm, batch=True),
    )


def collect(
    settings: Settings,
    *,
    resubmit: bool = False,
    wait: bool = False,
    timeout: float = 3600.0,
    poll: float = 30.0,
    llm: LLM | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> CollectReport:
    """``digest batch collect``: apply every finished batch; then, per stage with nothing
    left in flight, send failed items online (or to a new batch) and write the stage output."""
    report = CollectReport()
    with output_lock(settings.out_dir):
        ledger = Ledger(settings.out_dir)
        if not ledger.records():
            return report
        llm = llm or make_llm(settings)
        report.resumed = _resume_submissions(settings, llm, ledger)
        deadline = time.monotonic() + max(0.0, timeout)
        while True:
            waiting = []
            for rec in ledger.records():
                if rec.state != "submitted" or rec.batch_id is None:
                    continue
                batch = ba.retrieve(llm, rec.batch_id)
                if batch.status != rec.status or _counts(batch) != rec.request_counts:
                    rec = ledger.update(rec.local_id, status=batch.status, request_counts=_counts(batch))
                if batch.status not in FINAL_STATUSES:
                    waiting.append(rec)
                    continue
                report.collected.append(_apply(settings, llm, ledger, rec, batch, resubmit))
            left = deadline - time.monotonic()
            if not waiting or not wait or left <= 0:
                break
            log.info("waiting for %d batch(es); next look in %.0fs", len(waiting), min(poll, left))
            sleep(min(poll, left))
        report.waiting = waiting
        report.timed_out = wait and bool(waiting)
        for stage in ADAPTERS:
            records = ledger.records(stage)
            applied = [r for r in records if r.state == "applied"]
            if not applied:
                continue
            if any(r.state in IN_FLIGHT for r in records):
                report.notes.append(
                    f"{stage}: failed items and the stage output wait until its other batches are collected"
                )
                continue
            _finish_stage(settings, llm, ledger, stage, applied, resubmit, report)
    return report


def _finish_stage(
    settings: Settings,
    llm: LLM,
    ledger: Ledger,
    stage: str,
    applied: list[BatchRecord],
    resubmit: bool,
    report: CollectReport,
) -> None:
    failed = {k for r in applied for cid in r.failed for k in r.items[cid].keys}
    fixes = {k: f for r in applied for k, f in r.fixes.items()}
    if resubmit and (failed or fixes):
        select = Selection(ledger.held_keys(stage), only=failed | set(fixes), fixes=fixes)
        requests = adapter(stage).plan_requests(settings, llm, select)
        if requests:
            new = _submit(
                settings, llm, ledger, stage, requests, resubmit_of=",".join(r.label for r in applied)
            )
            for r in applied:
                ledger.update(
                    r.local_id,
                    state="collected",
                    resubmitted_as=new.batch_id,
                    fallback=f"batch {new.batch_id}",
                )
            report.resubmitted.append(new)
            return
    stage_report = adapter(stage).run_online(settings, llm)
    report.stages[stage] = stage_report.summary()
    report.exit_code = max(report.exit_code, stage_report.exit_code)
    for r in applied:
        ledger.update(r.local_id, state="collected", fallback="online" if (r.failed or r.fixes) else None)


# -- status -------------------------------------------------------------------------------------


def batch_status(settings: Settings, *, llm: LLM | None = None) -> StatusReport:
    """``digest batch status``: every recorded batch, with a fresh look at the running ones."""
    report = StatusReport(records=Ledger(settings.out_dir).records())
    running = [r for r in report.records if r.state == "submitted" and r.batch_id]
    if running:
        llm = llm or make_llm(settings)
    for i, r in enumerate(report.records):
        if r in running:
            try:
                batch = ba.retrieve(llm, r.batch_id)  # type: ignore[arg-type]
            except DigestError as exc:
                report.errors[r.local_id] = str(exc)
                continue
            report.records[i] = r.model_copy(
                update={"status": batch.status, "request_counts": _counts(batch)}
            )
    return report
