"""``digest run``: every stage in order, one LLM client, one lock on the output folder."""

from __future__ import annotations

import logging
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..llm.client import make_llm
from ..records import Entry
from ..settings import Settings
from ..store.lock import output_lock
from . import PIPELINE
from .base import Report
from .enrich import enrich_stage
from .index import index_stage
from .newsletter.stage import NewsletterReport, newsletter_all_dates
from .parse import parse_stage
from .translate import translate_stage

log = logging.getLogger(__name__)

SKIPPABLE = PIPELINE[1:]  # parse always runs


@dataclass
class RunReport:
    summaries: dict[str, str] = field(default_factory=dict)
    exit_code: int = 0
    usage: dict[str, Any] = field(default_factory=dict)
    next_steps: list[str] = field(default_factory=list)  # where to look when the run is done
    lefts: list[str] = field(default_factory=list)  # what each stage left to do
    failures: dict[str, str] = field(default_factory=dict)  # stages that failed as a whole, and why
    stopped_at: str = ""  # the stage that stopped the run early (endpoint down, cost limit)
    not_run: list[str] = field(default_factory=list)
    went_on: list[str] = field(default_factory=list)  # stages that failed, after which the run went on

    def add(self, stage: str, stage_report: Report) -> None:
        self.summaries[stage] = stage_report.summary()
        self.exit_code = max(self.exit_code, stage_report.exit_code)
        left = getattr(stage_report, "left", "")
        if left:
            self.lefts.append(f"{stage}: {left}")
        if failure := getattr(stage_report, "failure", ""):
            self.failures[stage] = failure

    @property
    def failure(self) -> str:
        """Why the run stopped early ("" when it ran every stage it had to)."""
        return self.failures.get(self.stopped_at, "")

    @property
    def left(self) -> str:
        """What a re-run still has to do ("" when nothing)."""
        parts = list(self.lefts)
        if self.not_run:
            parts.append(f"not run: {', '.join(self.not_run)}")
        return "; ".join(parts)

    def summary(self) -> str:
        lines = [f"{stage:<11} {text}" for stage, text in self.summaries.items()]
        if self.not_run:
            lines.append(
                f"{'stopped':<11} the run stopped after {self.stopped_at} failed; not run: {', '.join(self.not_run)}"
            )
        for stage in self.went_on:
            lines.append(
                f"{'went on':<11} {self.failures[stage]}; the endpoint answered but no reply was usable, so "
                "the run went on with what is left flagged or in Korean"
            )
        if self.usage:
            u = self.usage
            lines.append(
                f"{'llm':<11} {u.get('requests', 0)} requests, {u.get('prompt_tokens', 0)} prompt + "
                f"{u.get('completion_tokens', 0)} completion tokens, {u.get('retries', 0)} retries "
                f"(429/5xx/timeouts), {u.get('invalid_replies', 0)} invalid replies"
            )
        if self.next_steps:
            lines.append("")
            lines.extend(self.next_steps)
        return "\n".join(lines)


def run_all(
    settings: Settings, paths: list[Path], *, skip: tuple[str, ...] = (), strict: bool = False
) -> RunReport:
    """parse -> translate -> enrich -> index -> newsletter (one per digest date).

    Each stage is resumable and cached, so re-running after a crash (or on unchanged
    input) redoes nothing that is already done.  ``strict``: stop after parse (exit 3) when
    it found any problem."""
    report = RunReport()
    with output_lock(settings.out_dir):
        parsed = parse_stage(settings, paths, strict=strict)
        report.add("parse", parsed)
        if not parsed.entries:
            return report
        if strict and parsed.problems:
            report.summaries["stopped"] = "--strict: parse problems, no later stage was run"
            return report
        llm = make_llm(settings)
        steps: dict[str, Callable[[], Report]] = {
            "translate": lambda: translate_stage(settings, llm=llm),
            "enrich": lambda: enrich_stage(settings, llm=llm),
            "index": lambda: index_stage(settings),
            "newsletter": lambda: newsletter_all_dates(settings, llm=llm),
        }
        done: dict[str, Report] = {}
        todo = [name for name in SKIPPABLE if name not in skip]
        for i, name in enumerate(todo):
            done[name] = steps[name]()
            report.add(name, done[name])
            if not getattr(done[name], "failure", ""):
                continue
            if todo[i + 1 :] and not stops_the_run(done[name]):
                report.went_on.append(name)
                continue
            report.stopped_at, report.not_run = name, todo[i + 1 :]
            break
        report.usage = llm.meter.snapshot()
    news = done.get("newsletter")
    if isinstance(news, NewsletterReport) and news.paths:
        report.next_steps = next_steps(settings, news.paths, parsed.entries, asked="index" in done)
    return report


def stops_the_run(stage_report: Report) -> bool:
    """After a stage that failed as a whole, would the next stages fail too?  Yes when the cost
    limit stopped it, or when the endpoint never answered (down, refusing every request).  No
    when it answered but no reply was usable (a model too small for the task): the later stages
    still index and publish what there is, with the rest flagged or left in Korean."""
    if getattr(stage_report, "cost_stop", False):
        return True
    return not getattr(stage_report, "endpoint_works", False)


def next_steps(
    settings: Settings, paths: list[Path], entries: list[Entry], *, asked: bool = True
) -> list[str]:
    """Where to look after a run: the newsletters, and a ``digest ask`` to try on the index."""
    html = sorted(p for p in paths if p.suffix == ".html")
    latest = html[-1] if html else sorted(paths)[-1]
    folder = latest.parent
    lines = [
        f"Read the newsletter: {latest}" + (f" ({len(html)} issues in {folder}/)" if len(html) > 1 else "")
    ]
    top = max(entries, key=lambda e: (e.votes or 0, e.title), default=None)
    if asked and top is not None:
        name = top.title.split(":", 1)[0].strip()
        flags = []
        if settings.llm.provider == "mock":
            flags.append("--llm mock")
        elif settings.llm.preset:
            flags.append(f"--preset {settings.llm.preset}")
        elif settings.llm.base_url:
            flags.append(f"--llm {settings.llm.provider} --base-url {shlex.quote(settings.llm.base_url)}")
        if settings.out_dir != Path("outputs"):
            flags.append(f"--out {shlex.quote(str(settings.out_dir))}")
        question = shlex.quote(f"Which paper introduces {name}?")
        lines.append(f"Ask the digests:     digest ask {' '.join([*flags, question])}")
    return lines
