"""The enrich stage's side of the Batch API: one request per entry (its cache key is the
custom id), and each reply checked and journaled as the online path does."""

from __future__ import annotations

from typing import Any

from ...batch.ledger import BatchItem, Fix
from ...llm.client import LLM
from ...llm.structured import reply_from_body
from ...settings import Settings
from ..base import Applied, BatchRequest
from .plan import journal, plan_jobs, request_params, store_result
from .schema import LLMMetadata
from .stage import EnrichReport, enrich_stage


class EnrichBatchAdapter:
    stage = "enrich"
    unit = "entries"

    def plan_requests(
        self,
        settings: Settings,
        llm: LLM,
        hold: set[str],
        only: set[str] | None = None,
        fixes: dict[str, Fix] | None = None,  # enrich has no re-asks in a batch
    ) -> list[BatchRequest]:
        out: dict[str, BatchRequest] = {}
        for job in plan_jobs(settings)[1].jobs:
            if job.key in hold or (only is not None and job.key not in only):
                continue
            cid = "en-" + job.key  # the cache key is the custom id
            out[cid] = BatchRequest(
                cid,
                llm.structured_body(**request_params(job)),
                BatchItem(keys=[job.key], entries=[job.entry.id]),
            )
        return list(out.values())

    def apply(
        self,
        settings: Settings,
        llm: LLM,
        items: dict[str, BatchItem],
        replies: dict[str, tuple[dict[str, Any] | None, str]],
        *,
        model: str,
        resubmit: bool,
    ) -> Applied:
        cache = journal(settings)
        out = Applied()
        for cid, item in items.items():
            body, why = replies.get(cid, (None, "missing from the batch output"))
            if body is None:
                out.failed[cid] = why
                continue
            res, comp = reply_from_body(body, LLMMetadata)
            out.prompt_tokens += comp.prompt_tokens
            out.completion_tokens += comp.completion_tokens
            if not res.ok:
                out.failed[cid] = "; ".join(res.errors)[:300]
                continue
            store_result(cache, item.keys[0], res.value)  # type: ignore[arg-type]
            out.succeeded += 1
        return out

    def run_online(self, settings: Settings, llm: LLM) -> EnrichReport:
        return enrich_stage(settings, llm=llm)


ADAPTER = EnrichBatchAdapter()
