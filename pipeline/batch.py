"""The Batch API path of translate and enrich: the same requests at half the price,
finished within 24 hours.

``submit_stage`` plans exactly the requests the online stage would send (same prompts,
packing and cache keys; already cached or pending work is skipped), writes them to
``OUT/batches/<local id>.jsonl``, uploads the file and creates a batch.  Every step is
recorded in ``OUT/batches.jsonl`` (append-only; the last value of a field wins) before
the next one starts, so an interrupted submission is completed, never duplicated: an
upload is found again by its file name, a created batch by its input file.

``collect`` downloads finished batches and applies each result through the stage's own
validation and journal (``cache/translate.jsonl`` / ``cache/enrich.jsonl``).  When no
batch of a stage is still pending, failed items go to the online path (the stage itself
runs; it only sends what is not cached, and writes the stage output) or, with
``resubmit``, to a new batch with only those items.

Record states: submitting -> uploaded -> submitted -> applied (results journaled) ->
collected (failures handled, stage output written).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from .errors import ConfigError, DigestError
from .settings import Settings
from .store.jsonl import append_jsonl, content_hash, iter_jsonl_dicts, write_text_atomic
from .store.layout import OutDir
from .store.lock import output_lock

if TYPE_CHECKING:
    from .llm import LLM

log = logging.getLogger(__name__)

Stage = Literal["translate", "enrich"]
STAGES: tuple[Stage, ...] = ("translate", "enrich")
FINAL_STATUSES = ("completed", "failed", "expired", "cancelled")
IN_FLIGHT = ("submitting", "uploaded", "submitted")  # their items must not be sent again
SEARCH_LIMIT = 2000  # remote files / batches scanned when resuming an interrupted submission


# -- the ledger -------------------------------------------------------------------------------


class Fix(BaseModel):
    """A translated segment whose problems are re-asked in a batch (the online fix retry)."""

    text: str
    problems: list[str]


class BatchItem(BaseModel):
    """One request line: the cache keys its reply fills."""

    keys: list[str]
    entries: list[str] = Field(default_factory=list)
    fix: dict[str, Fix] = Field(default_factory=dict)


class BatchRecord(BaseModel):
    local_id: str
    stage: Stage
    state: Literal["submitting", "uploaded", "submitted", "applied", "collected"] = "submitting"
    created: datetime
    model: str
    request_file: str  # relative to the output folder
    request_hash: str  # content hash of the request file
    items: dict[str, BatchItem] = Field(default_factory=dict)  # custom_id -> item
    input_file_id: str | None = None
    batch_id: str | None = None
    status: str | None = None  # remote status at the last look
    request_counts: dict[str, int] = Field(default_factory=dict)
    succeeded: int = 0
    failed: dict[str, str] = Field(default_factory=dict)  # custom_id -> why
    fixes: dict[str, Fix] = Field(default_factory=dict)  # segment key -> first reply + problems
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    resubmit_of: str | None = None
    resubmitted_as: str | None = None
    fallback: str | None = None  # how failures were handled: "online" / "batch <id>"

    @property
    def keys(self) -> set[str]:
        return {k for item in self.items.values() for k in item.keys}

    @property
    def label(self) -> str:
        return self.batch_id or self.local_id


class Ledger:
    """``OUT/batches.jsonl``: every change appended (and fsynced) as a partial record."""

    def __init__(self, out_dir: Path) -> None:
        self.path = OutDir(out_dir).batch_ledger_path
        self._raw: dict[str, dict[str, Any]] = {}
        for d in iter_jsonl_dicts(self.path):
            if isinstance(d, dict) and isinstance(d.get("local_id"), str):
                self._raw.setdefault(d["local_id"], {}).update(d)

    def records(self, stage: str | None = None) -> list[BatchRecord]:
        out = []
        for raw in self._raw.values():
            try:
                rec = BatchRecord.model_validate(raw)
            except Exception as exc:  # pydantic.ValidationError
                log.warning("%s: skipping an unreadable batch record: %s", self.path, exc)
                continue
            if stage is None or rec.stage == stage:
                out.append(rec)
        return sorted(out, key=lambda r: r.created)

    def get(self, local_id: str) -> BatchRecord:
        return BatchRecord.model_validate(self._raw[local_id])

    def add(self, rec: BatchRecord) -> None:
        data = rec.model_dump(mode="json")
        append_jsonl(self.path, [data])
        self._raw[rec.local_id] = data

    def update(self, local_id: str, **fields: Any) -> BatchRecord:
        data = {"local_id": local_id, **_jsonable(fields)}
        append_jsonl(self.path, [data])
        self._raw[local_id].update(data)
        return self.get(local_id)

    def held_keys(self, stage: str) -> set[str]:
        """Cache keys in batches not yet back: never sent again."""
        return {k for r in self.records(stage) if r.state in IN_FLIGHT for k in r.keys}


def _jsonable(fields: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in fields.items():
        if isinstance(v, BaseModel):
            v = v.model_dump(mode="json")
        elif isinstance(v, dict):
            v = {kk: vv.model_dump(mode="json") if isinstance(vv, BaseModel) else vv for kk, vv in v.items()}
        elif isinstance(v, datetime):
            v = v.isoformat()
        out[k] = v
    return out


def warn_pending(settings: Settings, stage: str, keys: set[str], what: str) -> int:
    """The online path is about to send ``keys``: warn about those already waiting in a batch."""
    if not OutDir(settings.out_dir).batch_ledger_path.exists():
        return 0
    waiting = len(keys & Ledger(settings.out_dir).held_keys(stage))
    if waiting:
        log.warning(
            "%d %s are waiting in a submitted batch; sending them online now costs full price "
            "(run `digest batch collect` to use the batch results instead)",
            waiting,
            what,
        )
    return waiting


# -- planning the requests (the stages' own builders) -------------------------------------------


@dataclass
class Request:
    custom_id: str
    body: dict[str, Any]
    item: BatchItem


def _translate_requests(
    settings: Settings,
    llm: LLM,
    hold: set[str],
    only: set[str] | None = None,
    fixes: dict[str, Fix] | None = None,
) -> list[Request]:
    from .text.segments import pack
    from .translate import TranslateReport, plan_work, request_params

    work = plan_work(settings, TranslateReport(), write_glossary=True)
    segs = [s for k, s in work.todo.items() if k not in hold and (only is None or k in only)]
    fixes = {k: f for k, f in (fixes or {}).items() if k in {s.key for s in segs}}
    fresh = [s for s in segs if s.key not in fixes]
    groups: list[tuple[list, dict[str, list[str]] | None]] = [
        (g, None) for g in pack(fresh, settings.translate.batch_tokens)
    ]
    if fixes:
        again = [s for s in segs if s.key in fixes]
        groups += [
            (g, {s.key: fixes[s.key].problems for s in g})
            for g in pack(again, settings.translate.batch_tokens)
        ]
    out = []
    for group, problems in groups:
        params, _ = request_params(work.prompt, group, problems)
        keys = [s.key for s in group]
        out.append(
            Request(
                custom_id="tr-" + content_hash(keys, problems or {}),
                body=llm.structured_body(**params),
                item=BatchItem(
                    keys=keys,
                    entries=sorted({s.entry_id for s in group}),
                    fix={k: fixes[k] for k in keys if k in fixes},
                ),
            )
        )
    return out


def _enrich_requests(
    settings: Settings, llm: LLM, hold: set[str], only: set[str] | None = None
) -> list[Request]:
    from .enrich import plan_jobs, request_params

    out: dict[str, Request] = {}
    for job in plan_jobs(settings):
        if job.key in hold or (only is not None and job.key not in only):
            continue
        cid = "en-" + job.key  # the cache key is the custom id
        out[cid] = Request(
            cid, llm.structured_body(**request_params(job)), BatchItem(keys=[job.key], entries=[job.entry.id])
        )
    return list(out.values())


def _plan(settings: Settings, stage: str, llm: LLM, hold: set[str], **kw: Any) -> list[Request]:
    if stage == "translate":
        return _translate_requests(settings, llm, hold, **kw)
    if stage == "enrich":
        kw.pop("fixes", None)
        return _enrich_requests(settings, llm, hold, **kw)
    raise ConfigError(f"no batch path for stage {stage!r}; known: {', '.join(STAGES)}")


# -- submitting ---------------------------------------------------------------------------------


@dataclass
class SubmitReport:
    stage: str
    submitted: BatchRecord | None = None
    resumed: list[BatchRecord] = field(default_factory=list)
    pending: list[BatchRecord] = field(default_factory=list)

    exit_code: int = 0

    def summary(self) -> str:
        lines = [f"resumed an interrupted submission: batch {r.batch_id} ({r.stage})" for r in self.resumed]
        if self.submitted is not None:
            r = self.submitted
            keys = len(r.keys)
            what = "segments" if r.stage == "translate" else "entries"
            lines.append(
                f"submitted {r.stage} batch {r.batch_id}: {len(r.items)} requests for {keys} {what} "
                f"(Batch API, half price; done within 24 h) -- check with `digest batch status`, "
                f"then `digest batch collect`"
            )
        others = [r for r in self.pending if self.submitted is None or r.local_id != self.submitted.local_id]
        if self.submitted is None:
            if others:
                # no status here: the journal's is the one seen at submission, likely stale
                waiting = ", ".join(r.label for r in others)
                lines.append(
                    f"nothing new to submit for {self.stage}: {sum(len(r.items) for r in others)} requests "
                    f"are pending in batch(es) {waiting}; see `digest batch status`, then run "
                    "`digest batch collect`"
                )
            else:
                lines.append(f"nothing to submit for {self.stage}: every request is cached")
        return "\n".join(lines)


def submit_stage(settings: Settings, stage: Stage, *, llm: LLM | None = None) -> SubmitReport:
    """``digest translate --batch`` / ``digest enrich --batch``."""
    with output_lock(settings.out_dir):
        llm = llm or _make_llm(settings)
        ledger = Ledger(settings.out_dir)
        report = SubmitReport(stage)
        report.resumed = _resume_submissions(settings, llm, ledger)
        requests = _plan(settings, stage, llm, ledger.held_keys(stage))
        if requests:
            report.submitted = _submit(settings, llm, ledger, stage, requests)
        report.pending = [r for r in ledger.records(stage) if r.state in IN_FLIGHT]
        return report


def _make_llm(settings: Settings) -> LLM:
    from .llm import make_llm

    return make_llm(settings)


def _submit(
    settings: Settings,
    llm: LLM,
    ledger: Ledger,
    stage: Stage,
    requests: list[Request],
    resubmit_of: str | None = None,
) -> BatchRecord:
    from .llm.batch_api import request_line

    data = "".join(json.dumps(request_line(r.custom_id, r.body), ensure_ascii=False) + "\n" for r in requests)
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
    from .llm import batch_api as ba

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
    from .llm import batch_api as ba

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


@dataclass
class _Applied:
    succeeded: int = 0
    stale: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    fixes: dict[str, Fix] = field(default_factory=dict)
    prompt_tokens: int = 0
    completion_tokens: int = 0


def _one_reply(body: dict[str, Any], model_cls: type[BaseModel]) -> Any:
    """A batch reply as the ``StructuredResult`` of a single online attempt."""
    from .llm.structured import StructuredResult, check_structured, completion_from_body

    comp = completion_from_body(body)
    value, errs = check_structured(comp, model_cls)
    truncated = comp.finish_reason == "length" and not comp.refusal
    return StructuredResult(
        value,
        value is not None,
        [f"attempt 1: {e}" for e in errs],
        1,
        bool(comp.refusal),
        truncated,
        comp.text,
    ), comp


def _apply_translate(
    settings: Settings,
    llm: LLM,
    rec: BatchRecord,
    lines: dict[str, tuple[dict[str, Any] | None, str]],
    resubmit: bool,
) -> _Applied:
    from .translate import (
        SegResult,
        TranslateReport,
        TranslationBatch,
        _Translator,
        choose_revision,
        journal_results,
        parse_reply,
        plan_work,
        problems_of,
        request_params,
    )

    work = plan_work(settings, TranslateReport(), write_glossary=True)
    by_key = {seg.key: seg for plan in work.plans for seg, _ in plan.segments}
    translator: _Translator | None = None
    out = _Applied()
    for cid, item in rec.items.items():
        body, why = lines.get(cid, (None, "missing from the batch output"))
        if body is None:
            out.failed[cid] = why
            continue
        segs = [by_key.get(k) for k in item.keys]
        if any(s is None for s in segs):  # the digests changed since the batch was submitted
            out.stale += 1
            continue
        res, comp = _one_reply(body, TranslationBatch)
        out.prompt_tokens += comp.prompt_tokens
        out.completion_tokens += comp.completion_tokens
        problems = {k: f.problems for k, f in item.fix.items()} or None
        _, ids = request_params(work.prompt, segs, problems)  # type: ignore[arg-type]
        mapping, why = parse_reply(res, ids)
        if item.fix:  # a fix request: keep the better of the two, as the online path does
            results = {
                s.key: choose_revision(
                    s,
                    SegResult(item.fix[s.key].text),
                    item.fix[s.key].problems,
                    SegResult(mapping[s.key]) if mapping else None,
                )
                for s in segs  # type: ignore[union-attr]
            }
        elif mapping is None:
            out.failed[cid] = why
            continue
        else:
            results = {k: SegResult(t) for k, t in mapping.items()}
            bad = problems_of(segs, results)  # type: ignore[arg-type]
            if bad and resubmit:  # their fix requests go into the next batch
                out.fixes.update({k: Fix(text=results.pop(k).text, problems=p) for k, p in bad.items()})
            elif bad:  # the online fix retry, for those segments only
                translator = translator or _Translator(llm, work.prompt)
                results = translator.revise(segs, results)  # type: ignore[arg-type]
        journal_results(work.journal, results, rec.model)
        out.succeeded += 1
    return out


def _apply_enrich(
    settings: Settings, rec: BatchRecord, lines: dict[str, tuple[dict[str, Any] | None, str]]
) -> _Applied:
    from .enrich import LLMMetadata, _cache, store_result

    cache = _cache(settings)
    out = _Applied()
    for cid, item in rec.items.items():
        body, why = lines.get(cid, (None, "missing from the batch output"))
        if body is None:
            out.failed[cid] = why
            continue
        res, comp = _one_reply(body, LLMMetadata)
        out.prompt_tokens += comp.prompt_tokens
        out.completion_tokens += comp.completion_tokens
        if not res.ok:
            out.failed[cid] = "; ".join(res.errors)[:300]
            continue
        store_result(cache, item.keys[0], res.value)
        out.succeeded += 1
    return out


def _apply(
    settings: Settings, llm: LLM, ledger: Ledger, rec: BatchRecord, batch: Any, resubmit: bool
) -> BatchRecord:
    from .llm import estimate_cost

    lines = _download(llm, batch)
    if batch.status != "completed":
        log.warning("batch %s %s; its unfinished requests are handled as failures", rec.label, batch.status)
    if rec.stage == "translate":
        applied = _apply_translate(settings, llm, rec, lines, resubmit)
    else:
        applied = _apply_enrich(settings, rec, lines)
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


@dataclass
class CollectReport:
    collected: list[BatchRecord] = field(default_factory=list)  # downloaded in this run
    waiting: list[BatchRecord] = field(default_factory=list)  # not finished yet
    resumed: list[BatchRecord] = field(default_factory=list)
    resubmitted: list[BatchRecord] = field(default_factory=list)
    stages: dict[str, str] = field(default_factory=dict)  # stage -> summary of its online run
    notes: list[str] = field(default_factory=list)
    timed_out: bool = False
    exit_code: int = 0

    def summary(self) -> str:
        lines = [f"resumed an interrupted submission: batch {r.batch_id} ({r.stage})" for r in self.resumed]
        for r in self.collected:
            failed = f", {len(r.failed)} failed" if r.failed else ""
            fixes = f", {len(r.fixes)} segments to re-ask" if r.fixes else ""
            lines.append(
                f"collected {r.stage} batch {r.label} ({r.status}): {r.succeeded} results{failed}{fixes}; "
                f"{r.prompt_tokens} prompt + {r.completion_tokens} completion tokens, ${r.cost:.4f} at batch price"
            )
        for r in self.resubmitted:
            lines.append(
                f"resubmitted the failed items as {r.stage} batch {r.batch_id}: {len(r.items)} requests"
            )
        for stage, text in self.stages.items():
            lines.append(f"{stage}: {text}")
        for r in self.waiting:
            c = r.request_counts
            done = f" ({c.get('completed', 0)}/{c.get('total', 0)} done)" if c.get("total") else ""
            lines.append(
                f"not finished: {r.stage} batch {r.label} is {r.status}{done}; "
                + ("gave up waiting" if self.timed_out else "collect again later (or --wait)")
            )
        lines.extend(self.notes)
        if not lines:
            lines.append("no new batches to collect")
        return "\n".join(lines)


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
    from .llm import batch_api as ba

    report = CollectReport()
    with output_lock(settings.out_dir):
        ledger = Ledger(settings.out_dir)
        if not ledger.records():
            return report
        llm = llm or _make_llm(settings)
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
        for stage in STAGES:
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
    stage: Stage,
    applied: list[BatchRecord],
    resubmit: bool,
    report: CollectReport,
) -> None:
    failed = {k for r in applied for cid in r.failed for k in r.items[cid].keys}
    fixes = {k: f for r in applied for k, f in r.fixes.items()}
    if resubmit and (failed or fixes):
        requests = _plan(settings, stage, llm, ledger.held_keys(stage), only=failed | set(fixes), fixes=fixes)
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
    if stage == "translate":
        from .translate import translate_stage

        stage_report: Any = translate_stage(settings, llm=llm)
    else:
        from .enrich import enrich_stage

        stage_report = enrich_stage(settings, llm=llm)
    report.stages[stage] = stage_report.summary()
    report.exit_code = max(report.exit_code, stage_report.exit_code)
    for r in applied:
        ledger.update(r.local_id, state="collected", fallback="online" if (r.failed or r.fixes) else None)


# -- status -------------------------------------------------------------------------------------


@dataclass
class StatusReport:
    records: list[BatchRecord] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)  # local id -> why the remote look failed
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def left(self, r: BatchRecord) -> str:
        if r.state in ("submitting", "uploaded"):
            return "interrupted submission: run `digest batch collect` to finish it"
        if r.state == "submitted":
            what = "ready: run `digest batch collect`" if r.status in FINAL_STATUSES else "running"
            return f"{len(r.items)} requests to collect ({what})"
        if r.state == "applied":
            return f"{len(r.failed)} failed to handle (waiting for other batches)"
        if r.resubmitted_as:
            return f"done; {len(r.failed) + len(r.fixes)} items resubmitted as {r.resubmitted_as}"
        return "done" + (f"; {len(r.failed)} failed items done online" if r.failed else "")

    def summary(self) -> str:
        if not self.records:
            return "no batches submitted (use `digest translate --batch` or `digest enrich --batch`)"
        head = ("STAGE", "BATCH", "STATUS", "DONE/FAILED/TOTAL", "CREATED", "AGE", "LEFT")
        rows = [head]
        for r in self.records:
            c = r.request_counts
            counts = f"{c.get('completed', 0)}/{c.get('failed', 0)}/{c.get('total', 0) or len(r.items)}"
            status = r.status or r.state
            if r.local_id in self.errors:
                status = f"unknown ({self.errors[r.local_id]})"
            rows.append(
                (
                    r.stage,
                    r.label,
                    status,
                    counts,
                    r.created.strftime("%Y-%m-%d %H:%M"),
                    _age((self.now - r.created).total_seconds()),
                    self.left(r),
                )
            )
        widths = [max(len(row[i]) for row in rows) for i in range(len(head) - 1)]
        return "\n".join(
            "  ".join(cell.ljust(w) for cell, w in zip(row[:-1], widths, strict=True)) + "  " + row[-1]
            for row in rows
        )

    @property
    def exit_code(self) -> int:
        return 0


def _age(seconds: float) -> str:
    s = int(max(0, seconds))
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def batch_status(settings: Settings, *, llm: LLM | None = None) -> StatusReport:
    """``digest batch status``: every recorded batch, with a fresh look at the running ones."""
    from .llm import batch_api as ba

    report = StatusReport(records=Ledger(settings.out_dir).records())
    running = [r for r in report.records if r.state == "submitted" and r.batch_id]
    if running:
        llm = llm or _make_llm(settings)
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
