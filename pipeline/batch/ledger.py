"""``OUT/batches.jsonl``: the record of every Batch API submission, step by step.

A leaf: it knows no stage.  The stages use :func:`warn_pending` (an online run about to
send what a batch already holds), the orchestrator everything else.

Record states: submitting -> uploaded -> submitted -> applied (results journaled) ->
collected (failures handled, stage output written).
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from ..store.jsonl import append_jsonl, iter_jsonl_dicts
from ..store.layout import OutDir

if TYPE_CHECKING:
    from ..settings import Settings

log = logging.getLogger(__name__)

FINAL_STATUSES = ("completed", "failed", "expired", "cancelled")
IN_FLIGHT = ("submitting", "uploaded", "submitted")  # their items must not be sent again


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
    stage: str  # the stage whose adapter planned the requests: translate, enrich
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
