"""The translate stage's side of the Batch API: the same requests as the online path, and
their replies applied through the same validation, re-ask and journal."""

from __future__ import annotations

from ...batch.ledger import BatchItem, Fix
from ...llm.client import LLM
from ...llm.structured import single_attempt
from ...settings import Settings
from ...store.jsonl import content_hash
from ...text.segments import Segment, pack
from ..base import Applied, BatchRequest, Replies, Selection
from .engine import SegResult, Translator, problems_of
from .plan import journal_results, plan_work
from .request import TranslationBatch, output_limit, parse_reply, request_params
from .stage import TranslateReport, translate_stage


class TranslateBatchAdapter:
    stage = "translate"
    unit = "segments"

    def plan_requests(self, settings: Settings, llm: LLM, select: Selection) -> list[BatchRequest]:
        """The segments not cached nor held, packed as online; a fix (a segment whose first reply
        had problems) goes into a request of its own kind, with its problems named."""
        work = plan_work(settings, write_glossary=True)
        only = select.only
        segs = [s for k, s in work.todo.items() if k not in select.hold and (only is None or k in only)]
        fixes = {k: f for k, f in select.fixes.items() if k in {s.key for s in segs}}
        fresh = [s for s in segs if s.key not in fixes]
        groups: list[tuple[list[Segment], dict[str, list[str]] | None]] = [
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
                BatchRequest(
                    custom_id="tr-" + content_hash(keys, problems or {}),
                    body=llm.structured_body(
                        **params, max_tokens=output_limit(group, settings.llm.max_output_tokens)
                    ),
                    item=BatchItem(
                        keys=keys,
                        entries=sorted({s.entry_id for s in group}),
                        fix={k: fixes[k] for k in keys if k in fixes},
                    ),
                )
            )
        return out

    def apply(self, settings: Settings, llm: LLM, replies: Replies) -> Applied:
        work = plan_work(settings, write_glossary=True)
        by_key = {seg.key: seg for plan in work.plans for seg, _ in plan.segments}
        translator = Translator(llm, work.prompt)
        out = Applied()
        for cid, item, comp in replies.answered(out):
            found = [by_key.get(k) for k in item.keys]
            segs = [s for s in found if s is not None]
            if len(segs) < len(found):  # the digests changed since the batch was submitted
                out.stale += 1
                continue
            res = single_attempt(comp, TranslationBatch)
            problems = {k: f.problems for k, f in item.fix.items()} or None
            _, ids = request_params(work.prompt, segs, problems)
            mapping, why = parse_reply(res, ids)
            if item.fix:  # a fix request: this reply is the re-ask of the stored first reply
                first = {s.key: SegResult(item.fix[s.key].text) for s in segs}
                second = {k: SegResult(t) for k, t in (mapping or {}).items()}
                results = translator.revise(segs, first, ask_again=lambda _segs, _problems, got=second: got)
            elif mapping is None:
                out.failed[cid] = why
                continue
            else:
                results = {k: SegResult(t) for k, t in mapping.items()}
                bad = problems_of(segs, results)
                if bad and replies.resubmit:  # their fix requests go into the next batch
                    out.fixes.update({k: Fix(text=results.pop(k).text, problems=p) for k, p in bad.items()})
                elif bad:  # the online re-ask, for those segments only
                    results = translator.revise(segs, results)
            journal_results(work.journal, results, replies.model)
            out.succeeded += 1
        return out

    def run_online(self, settings: Settings, llm: LLM) -> TranslateReport:
        return translate_stage(settings, llm=llm)


ADAPTER = TranslateBatchAdapter()
