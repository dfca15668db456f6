"""The enrich stage's side of the Batch API: one request per entry (its cache key is the
custom id), and each reply checked and journaled as the online path does."""

from __future__ import annotations

from ...batch.ledger import BatchItem
from ...llm.client import LLM
from ...llm.structured import single_attempt
from ...settings import Settings
from ..base import Applied, BatchRequest, Replies, Selection
from .plan import journal, plan_jobs, request_params, store_result
from .schema import LLMMetadata
from .stage import EnrichReport, enrich_stage


class EnrichBatchAdapter:
    stage = "enrich"
    unit = "entries"

    def plan_requests(self, settings: Settings, llm: LLM, select: Selection) -> list[BatchRequest]:
        """One request per entry not cached nor held (enrich has no re-asks in a batch)."""
        out: dict[str, BatchRequest] = {}
        for job in plan_jobs(settings)[1].jobs:
            if job.key in select.hold or (select.only is not None and job.key not in select.only):
                continue
            cid = "en-" + job.key  # the cache key is the custom id
            out[cid] = BatchRequest(
                cid,
                llm.structured_body(**request_params(job)),
                BatchItem(keys=[job.key], entries=[job.entry.id]),
            )
        return list(out.values())

    def apply(self, settings: Settings, llm: LLM, replies: Replies) -> Applied:
        cache = journal(settings)
        out = Applied()
        for cid, item, comp in replies.answered(out):
            res = single_attempt(comp, LLMMetadata)
            if not res.ok:
                out.failed[cid] = "; ".join(res.errors)[:300]
                continue
            store_result(cache, item.keys[0], res.value)  # type: ignore[arg-type]
            out.succeeded += 1
        return out

    def run_online(self, settings: Settings, llm: LLM) -> EnrichReport:
        return enrich_stage(settings, llm=llm)


ADAPTER = EnrichBatchAdapter()
