"""What ``digest translate --batch``, ``digest batch collect`` and ``digest batch status`` report."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from .ledger import FINAL_STATUSES, BatchRecord


@dataclass
class SubmitReport:
    stage: str
    unit: str = "items"  # what the stage's cache keys stand for: "segments", "entries"
    submitted: BatchRecord | None = None
    resumed: list[BatchRecord] = field(default_factory=list)
    pending: list[BatchRecord] = field(default_factory=list)

    exit_code: int = 0

    def summary(self) -> str:
        lines = [f"resumed an interrupted submission: batch {r.batch_id} ({r.stage})" for r in self.resumed]
        if self.submitted is not None:
            r = self.submitted
            keys = len(r.keys)
            lines.append(
                f"submitted {r.stage} batch {r.batch_id}: {len(r.items)} requests for {keys} {self.unit} "
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
