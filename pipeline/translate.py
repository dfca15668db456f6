"""Translate stage: ``entries.jsonl`` -> ``translations.jsonl`` (one SectionTranslation per
section of every entry).

Sections are split when too long, packed several to a request within a token budget, and
sent with only the glossary entries that occur in them.  Every reply is checked (ids line up,
no Hangul left, numbers kept, glossary used); a bad reply is retried in smaller groups, a bad
segment once with its problems named, then kept and flagged.  Each result is journaled as it
arrives (``cache/translate.jsonl``, keyed per segment by source text, model, prompt, glossary
entries and temperature), so a re-run costs nothing and a killed run resumes.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from .errors import ConfigError, DigestError, InputError, LLMError
from .parse import load_entries
from .progress import Progress
from .prompts import Prompt, load_prompt
from .records import Entry, SectionTranslation
from .runner import JobOutcome, JobSkipped, run_jobs
from .settings import Settings
from .store.journal import JsonlCache
from .store.jsonl import content_hash, write_jsonl_atomic
from .store.layout import OutDir
from .store.lock import output_lock
from .text.escape import escape_data, unescape_data
from .text.glossary import Glossary, GlossaryUpdate, load_glossary, mine_glossary, seed_glossary
from .text.hangul import hangul_runs, has_hangul
from .text.memory import TranslationMemory, load_memory
from .text.numbers import missing_numbers
from .text.segments import Segment, join_parts, pack, split_text

if TYPE_CHECKING:
    from .llm.structured import StructuredResult

log = logging.getLogger(__name__)

CACHE_VERSION = "translate/v1"
# English output tokens per Korean source token (o200k), for --dry-run estimates
EN_PER_KO_TOKEN = 0.8
ITEM_OVERHEAD_TOKENS = 12  # {"id":"3","text":"..."} per segment in the reply
SINGLE_ATTEMPTS = 2  # requests for one segment whose replies keep failing
SCHEMA_NAME = "translations"


class TranslationItem(BaseModel):
    id: str
    text: str


class TranslationBatch(BaseModel):
    translations: list[TranslationItem]


@dataclass
class SegResult:
    text: str
    flags: list[str] = field(default_factory=list)
    ok: bool = True  # False: no usable reply at all (not journaled; a re-run retries it)


@dataclass
class TranslateReport:
    sections: int = 0
    origins: Counter[str] = field(default_factory=Counter)
    flagged: int = 0
    untranslated: int = 0
    segments_sent: int = 0
    batches: int = 0
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    http_retries: int = 0
    regroups: int = 0  # replies that did not line up / could not be parsed -> smaller groups
    fix_retries: int = 0  # segments re-asked with their validation problems
    cost: float = 0.0
    batch_cost: float = 0.0  # the same requests through the Batch API (half price)
    price_basis: str = ""  # --dry-run: model and prices the cost is estimated with
    dry_run: bool = False
    glossary_terms: int = 0
    glossary_added: int = 0
    glossary_path: Path | None = None
    out_path: Path | None = None

    @property
    def exit_code(self) -> int:
        return LLMError.exit_code if self.untranslated else 0

    def summary(self) -> str:
        if self.dry_run:
            return (
                f"dry run: {self.sections} sections, {self.origins.get('cache', 0)} cached, "
                f"{self.origins.get('memory', 0)} from memory, {self.origins.get('source', 0)} already English; "
                f"{self.segments_sent} segments to translate in {self.requests} requests; "
                f"estimated {self.prompt_tokens} prompt + {self.completion_tokens} completion tokens, "
                f"~${self.cost:.4f} online, ~${self.batch_cost:.4f} with --batch (Batch API, half price) "
                f"for {self.price_basis}; glossary {self.glossary_terms} terms"
            )
        o = self.origins
        parts = [
            f"translated {self.sections} sections (model {o.get('model', 0)}, cache {o.get('cache', 0)}, "
            f"memory {o.get('memory', 0)}, already English {o.get('source', 0)})"
        ]
        if self.flagged:
            parts.append(f"{self.flagged} flagged")
        if self.untranslated:
            parts.append(f"{self.untranslated} NOT translated (re-run to retry)")
        parts.append(
            f"{self.requests} requests ({self.http_retries} HTTP retries, {self.regroups} regrouped, "
            f"{self.fix_retries} segments re-asked)"
        )
        parts.append(
            f"{self.prompt_tokens} prompt + {self.completion_tokens} completion tokens, ${self.cost:.4f}"
        )
        parts.append(f"glossary {self.glossary_terms} terms ({self.glossary_added} added)")
        if self.out_path:
            parts.append(f"-> {self.out_path}")
        return "; ".join(parts)


# ---------------------------------------------------------------- validation


def _norm_term(text: str) -> str:
    words = re.split(r"[\s\-_/]+", text.lower())
    return " ".join(w[:-1] if w.endswith("s") and len(w) > 3 else w for w in words if w)


def validate(source: str, translation: str, glossary: tuple[tuple[str, str], ...] = ()) -> list[str]:
    """Problems of one translated segment (empty list: fine)."""
    problems: list[str] = []
    if not translation.strip():
        return ["empty translation"]
    if has_hangul(translation):
        left = hangul_runs(translation)[:3]
        problems.append("Korean text left untranslated: " + ", ".join(left))
    missing = missing_numbers(source, translation)
    if missing:
        problems.append("numbers of the source missing: " + ", ".join(missing))
    norm_out = " " + _norm_term(translation) + " "
    unused = [
        f"{ko} => {en}"
        for ko, en in glossary
        if " " + _norm_term(en) + " " not in norm_out and _norm_term(en) not in norm_out
    ]
    if unused:
        problems.append("glossary terms not used: " + "; ".join(unused))
    return problems


# ---------------------------------------------------------------- planning


@dataclass
class _SectionPlan:
    entry: Entry
    index: int
    source_hash: str
    origin: str | None = None  # "source" / "memory" when settled without segments
    text: str | None = None
    segments: list[tuple[Segment, str]] = field(default_factory=list)  # (segment, joiner)
    memory_parts: dict[int, str] = field(default_factory=dict)


def build_messages(
    prompt: Prompt, segs: list[Segment], problems: dict[str, list[str]] | None = None
) -> tuple[list[dict], dict[str, Segment]]:
    """Chat messages for one request; ids are 1..n within the request."""
    ids = {str(i): s for i, s in enumerate(segs, 1)}
    terms = sorted({pair for s in segs for pair in s.glossary})
    blocks: list[str] = []
    if terms:
        blocks.append("<glossary>\n" + "\n".join(f"{ko} => {en}" for ko, en in terms) + "\n</glossary>")
    if problems:
        lines = [
            f"segment {sid}: " + "; ".join(problems[s.key]) for sid, s in ids.items() if s.key in problems
        ]
        if lines:
            blocks.append("<problems>\n" + "\n".join(lines) + "\n</problems>")
    blocks.append("\n".join(f'<segment id="{sid}">{escape_data(s.text)}</segment>' for sid, s in ids.items()))
    user = "\n\n".join(blocks)
    return [{"role": "system", "content": prompt.text}, {"role": "user", "content": user}], ids


class _Translator:
    """Sends batches; regroups replies that do not line up; re-asks bad segments once."""

    def __init__(self, llm, prompt: Prompt):  # noqa: ANN001 - pipeline.llm.LLM
        self.llm = llm
        self.prompt = prompt
        self._lock = threading.Lock()
        self.regroups = 0
        self.fix_retries = 0
        self.abort: DigestError | None = None

    def translate_batch(self, segs: list[Segment]) -> dict[str, SegResult]:
        if self.abort is not None:
            raise JobSkipped()
        return self.revise(segs, self._group(segs, None))

    def revise(self, segs: list[Segment], results: dict[str, SegResult]) -> dict[str, SegResult]:
        """Validate first replies; re-ask the bad segments once with their problems named
        (online; the batch path applies its replies through here too)."""
        bad = problems_of(segs, results)
        if bad:
            with self._lock:
                self.fix_retries += len(bad)
            again = [s for s in segs if s.key in bad]
            retried = self._group(again, bad)
            for s in again:
                results[s.key] = choose_revision(s, results[s.key], bad[s.key], retried[s.key])
        return results

    def _group(self, segs: list[Segment], problems: dict[str, list[str]] | None) -> dict[str, SegResult]:
        attempts = 1 if len(segs) > 1 else SINGLE_ATTEMPTS
        reason = ""
        for _ in range(attempts):
            mapping, reason = self._request(segs, problems)
            if mapping is not None:
                return {s.key: SegResult(mapping[s.key]) for s in segs}
        if len(segs) > 1:
            with self._lock:
                self.regroups += 1
            log.info("reply for %d segments unusable (%s); retrying in smaller groups", len(segs), reason)
            mid = len(segs) // 2
            return {**self._group(segs[:mid], problems), **self._group(segs[mid:], problems)}
        seg = segs[0]
        log.warning("segment %s#%d could not be translated: %s", seg.entry_id, seg.index, reason)
        return {seg.key: SegResult(seg.text, [f"untranslated: {reason}"], ok=False)}

    def _request(
        self, segs: list[Segment], problems: dict[str, list[str]] | None
    ) -> tuple[dict[str, str] | None, str]:
        params, ids = request_params(self.prompt, segs, problems)
        res = self.llm.complete_json(**params, max_reasks=1)
        return parse_reply(res, ids)


def request_params(
    prompt: Prompt, segs: list[Segment], problems: dict[str, list[str]] | None = None
) -> tuple[dict[str, Any], dict[str, Segment]]:
    """The structured-output request for ``segs``: online (``LLM.complete_json``) and in a
    Batch API line (``LLM.structured_body``) alike; plus the request's id -> segment map."""
    messages, ids = build_messages(prompt, segs, problems)
    return {"messages": messages, "model_cls": TranslationBatch, "schema_name": SCHEMA_NAME}, ids


def parse_reply(res: StructuredResult, ids: dict[str, Segment]) -> tuple[dict[str, str] | None, str]:
    """Segment key -> English text from one structured reply, or (None, why it is unusable)."""
    if not res.ok or res.value is None:
        why = "refused" if res.refused else "truncated" if res.truncated else "invalid reply"
        return None, f"{why}: {res.errors[-1] if res.errors else ''}"[:300]
    value: TranslationBatch = res.value  # type: ignore[assignment]
    got = [item.id.strip() for item in value.translations]
    if sorted(got) != sorted(ids):
        dup = sorted({i for i in got if got.count(i) > 1})
        return None, (
            f"ids do not line up (missing {sorted(set(ids) - set(got))}, "
            f"extra {sorted(set(got) - set(ids))}, duplicated {dup})"
        )
    by_id = {item.id.strip(): item.text for item in value.translations}
    return {s.key: unescape_data(by_id[sid].strip()) for sid, s in ids.items()}, ""


def problems_of(segs: list[Segment], results: dict[str, SegResult]) -> dict[str, list[str]]:
    """Validation problems of the usable results (segments without problems left out)."""
    bad = {s.key: validate(s.text, results[s.key].text, s.glossary) for s in segs if results[s.key].ok}
    return {k: v for k, v in bad.items() if v}


def choose_revision(
    seg: Segment, first: SegResult, problems: list[str], second: SegResult | None
) -> SegResult:
    """Keep the re-asked translation unless it is worse; else the first one, flagged."""
    problems2 = validate(seg.text, second.text, seg.glossary) if second is not None and second.ok else None
    if second is not None and problems2 is not None and len(problems2) <= len(problems):
        return SegResult(second.text, problems2)
    return SegResult(first.text, list(problems), first.ok)


def journal_results(journal: JsonlCache, results: dict[str, SegResult], model: str) -> None:
    """Journal every usable result (a failed one is retried by the next run)."""
    journal.put_many(
        {k: {"text": r.text, "flags": r.flags, "model": model} for k, r in results.items() if r.ok}
    )


# ---------------------------------------------------------------- the stage


def _glossary_for(settings: Settings, entries: list[Entry], *, write: bool) -> tuple[Glossary, int]:
    default_path = OutDir(settings.out_dir).glossary_path
    path = Path(settings.translate.glossary_file or default_path)
    default = path == default_path
    if not default:
        if not path.exists():
            raise InputError(f"glossary file not found: {path}")
        return load_glossary(path), 0
    texts = [s.text for e in entries for s in e.sections]
    if write:
        upd = seed_glossary(path, texts)
        if upd.added:
            log.info("%s", upd.summary())
        return upd.glossary, len(upd.added)
    g = load_glossary(path)
    new = {k: v for k, v in mine_glossary(texts).items() if k not in g.entries and k not in g.disabled}
    g.entries.update(new)
    return g, len(new)


def glossary_stage(settings: Settings, *, rebuild: bool = False) -> GlossaryUpdate:
    """``digest glossary``: the glossary, created from the parsed digests when missing;
    ``rebuild`` mines them again and appends the terms the file does not know yet."""
    path = Path(settings.translate.glossary_file or OutDir(settings.out_dir).glossary_path)
    if path.exists() and not rebuild:
        return GlossaryUpdate(load_glossary(path), [], path)
    entries = load_entries(settings)
    with output_lock(settings.out_dir):
        return seed_glossary(path, [s.text for e in entries for s in e.sections])


def segment_key(text: str, model: str, prompt_sha: str, glossary: tuple, temperature: float) -> str:
    return content_hash(CACHE_VERSION, text, model, prompt_sha, [list(p) for p in glossary], temperature)


def plan_sections(
    entries: list[Entry], settings: Settings, prompt: Prompt, glossary: Glossary, memory: TranslationMemory
) -> list[_SectionPlan]:
    from .llm import count_tokens

    model = settings.llm.chat_model
    temperature = settings.llm.temperature
    plans: list[_SectionPlan] = []
    for entry in entries:
        for i, section in enumerate(entry.sections):
            plan = _SectionPlan(entry, i, content_hash(section.text))
            plans.append(plan)
            if not has_hangul(section.text):
                plan.origin, plan.text = "source", section.text
                continue
            remembered = memory.lookup(section.text)
            if remembered is not None:
                plan.origin, plan.text = "memory", remembered
                continue
            chunks = split_text(
                section.text, settings.translate.max_section_tokens, lambda t: count_tokens(t, model)
            )
            for part, (chunk, joiner) in enumerate(chunks):
                hit = memory.lookup(chunk)
                if hit is not None:
                    plan.memory_parts[part] = hit
                gl = tuple(glossary.matches(chunk))
                seg = Segment(
                    key=segment_key(chunk, model, prompt.sha, gl, temperature),
                    text=chunk,
                    entry_id=entry.id,
                    index=i,
                    part=part,
                    parts=len(chunks),
                    tokens=count_tokens(chunk, model),
                    glossary=gl,
                )
                plan.segments.append((seg, joiner))
    return plans


@dataclass
class Work:
    """What a translate run has to do: the online path and the batch path share it."""

    plans: list[_SectionPlan]
    prompt: Prompt
    journal: JsonlCache
    todo: dict[str, Segment]  # segments neither cached nor in memory, by key
    batches: list[list[Segment]]  # ``todo`` packed into requests


def plan_work(settings: Settings, report: TranslateReport, *, write_glossary: bool) -> Work:
    """Plan every section of ``OUT/entries.jsonl``; pack what is not cached into requests."""
    entries = load_entries(settings)
    glossary, added = _glossary_for(settings, entries, write=write_glossary)
    report.glossary_terms, report.glossary_added = len(glossary), added
    report.glossary_path = glossary.path
    memory = load_memory(settings.translate.memory_file)
    prompt = load_prompt(settings, settings.translate.prompt)
    plans = plan_sections(entries, settings, prompt, glossary, memory)
    journal = JsonlCache(OutDir(settings.out_dir).journal_path("translate"))
    todo: dict[str, Segment] = {}
    for plan in plans:
        for seg, _ in plan.segments:
            if seg.part in plan.memory_parts or _cached(journal, seg.key) or seg.key in todo:
                continue
            todo[seg.key] = seg
    batches = pack(list(todo.values()), settings.translate.batch_tokens)
    return Work(plans, prompt, journal, todo, batches)


def translate_stage(settings: Settings, *, dry_run: bool = False, llm=None) -> TranslateReport:  # noqa: ANN001
    """``digest translate``: translate every section of ``OUT/entries.jsonl``."""
    out_dir = settings.out_dir
    report = TranslateReport(dry_run=dry_run)
    with output_lock(out_dir):
        work = plan_work(settings, report, write_glossary=not dry_run)
        plans, prompt, journal, todo, batches = work.plans, work.prompt, work.journal, work.todo, work.batches
        report.segments_sent, report.batches = len(todo), len(batches)
        if todo and not dry_run:
            from .batch import warn_pending

            warn_pending(settings, "translate", set(todo), "segments")

        if dry_run:
            _estimate(report, settings, prompt, batches)
            _count_origins(report, plans, journal, set(todo))
            return report

        fresh: dict[str, SegResult] = {}
        if batches:
            if llm is None:
                from .llm import make_llm

                llm = make_llm(settings)
            before = llm.meter.snapshot()
            translator = _Translator(llm, prompt)
            _run(settings, translator, batches, journal, fresh)
            after = llm.meter.snapshot()
            report.requests = after["requests"] - before["requests"]
            report.prompt_tokens = after["prompt_tokens"] - before["prompt_tokens"]
            report.completion_tokens = after["completion_tokens"] - before["completion_tokens"]
            report.http_retries = after["retries"] - before["retries"]
            report.regroups, report.fix_retries = translator.regroups, translator.fix_retries
            from .llm import estimate_cost

            report.cost = estimate_cost(report.prompt_tokens, report.completion_tokens, settings.llm)
            if translator.abort is not None:
                hint = (
                    "fix the setting, then re-run: finished work is saved"
                    if isinstance(translator.abort, ConfigError)
                    else "finished work is saved; re-run to resume"
                )
                raise type(translator.abort)(f"{translator.abort} -- {hint}")

        records = [_assemble(plan, journal, fresh, settings.llm.chat_model, report) for plan in plans]
        out = OutDir(out_dir).translations_path
        write_jsonl_atomic(out, records)
        report.out_path = out
        report.sections = len(records)
    return report


def _cached(journal: JsonlCache, key: str) -> bool:
    value = journal.get(key)
    return isinstance(value, dict) and isinstance(value.get("text"), str)


def _run(
    settings: Settings,
    translator: _Translator,
    batches: list[list[Segment]],
    journal: JsonlCache,
    fresh: dict[str, SegResult],
) -> None:
    def weight(batch: list[Segment]) -> int:
        return sum(1 for s in batch if s.last_part)

    def on_result(outcome: JobOutcome[list[Segment], dict[str, SegResult]]) -> None:
        if isinstance(outcome.error, JobSkipped):  # not attempted: the run is stopping
            return
        if outcome.error is not None:
            err = outcome.error
            if not isinstance(err, DigestError):
                err = LLMError(f"translation request failed: {type(err).__name__}: {err}")
            if translator.abort is None:
                log.error("%s", err)
                translator.abort = err if isinstance(err, ConfigError | LLMError) else LLMError(str(err))
            for seg in outcome.job:
                fresh[seg.key] = SegResult(seg.text, [f"untranslated: {err}"], ok=False)
            return
        results = outcome.result or {}
        fresh.update(results)
        journal_results(journal, results, settings.llm.chat_model)

    total = sum(weight(b) for b in batches)
    with Progress(total, "translate", mode=settings.progress, unit="section") as progress:
        run_jobs(
            batches,
            translator.translate_batch,
            concurrency=max(1, settings.llm.concurrency),
            progress=progress,
            on_result=on_result,
            weight=weight,
        )


def _assemble(
    plan: _SectionPlan,
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
        return SectionTranslation(**base, text=plan.text or "", origin=plan.origin)  # type: ignore[arg-type]
    parts: list[tuple[str, str]] = []
    flags: list[str] = []
    origins: set[str] = set()
    used_model: str | None = None
    untranslated = False
    for seg, joiner in plan.segments:
        if seg.part in plan.memory_parts:
            parts.append((plan.memory_parts[seg.part], joiner))
            origins.add("memory")
            continue
        r = fresh.get(seg.key)
        if r is not None and r.ok:
            origins.add("model")
            text, seg_flags, used_model = r.text, r.flags, model
        elif _cached(journal, seg.key):
            value = journal.get(seg.key)
            origins.add("cache")
            text, seg_flags = value["text"], list(value.get("flags") or [])
            used_model = value.get("model") or model
        else:
            text = seg.text
            seg_flags = r.flags if r is not None else ["untranslated: not attempted"]
            origins.add("model")
            untranslated = True
        prefix = f"part {seg.part + 1}/{seg.parts}: " if seg.parts > 1 else ""
        flags.extend(prefix + f for f in seg_flags)
        parts.append((text, joiner))
    origin = "model" if "model" in origins else "cache" if "cache" in origins else "memory"
    if untranslated:
        report.untranslated += 1
    elif flags:
        report.flagged += 1
    report.origins[origin] += 1
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


def _count_origins(
    report: TranslateReport, plans: list[_SectionPlan], journal: JsonlCache, todo: set[str]
) -> None:
    for plan in plans:
        report.sections += 1
        if plan.origin:
            report.origins[plan.origin] += 1
        elif any(s.key in todo for s, _ in plan.segments):
            report.origins["model"] += 1
        elif all(s.part in plan.memory_parts for s, _ in plan.segments):
            report.origins["memory"] += 1
        else:
            report.origins["cache"] += 1


def _estimate(
    report: TranslateReport, settings: Settings, prompt: Prompt, batches: list[list[Segment]]
) -> None:
    from .llm import estimate_cost
    from .llm.tokens import count_message_tokens
    from .llm.usage import price_basis

    model = settings.llm.chat_model
    report.price_basis = price_basis(settings.llm)
    for batch in batches:
        messages, _ = build_messages(prompt, batch)
        report.prompt_tokens += count_message_tokens(messages, model)
        report.completion_tokens += 10 + sum(
            int(s.tokens * EN_PER_KO_TOKEN) + ITEM_OVERHEAD_TOKENS for s in batch
        )
    report.requests = len(batches)
    report.cost = estimate_cost(report.prompt_tokens, report.completion_tokens, settings.llm)
    report.batch_cost = estimate_cost(
        report.prompt_tokens, report.completion_tokens, settings.llm, batch=True
    )
