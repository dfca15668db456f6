"""``digest run``: every stage in order, one LLM client, one lock on the output folder."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..llm.client import make_llm
from ..settings import Settings
from ..store.lock import output_lock
from . import PIPELINE
from .base import Report
from .enrich import enrich_stage
from .index import index_stage
from .newsletter.stage import newsletter_all_dates
from .parse import parse_stage
from .translate import translate_stage

log = logging.getLogger(__name__)

SKIPPABLE = PIPELINE[1:]  # parse always runs


@dataclass
class RunReport:
    summaries: dict[str, str] = field(default_factory=dict)
    exit_code: int = 0
    usage: dict[str, Any] = field(default_factory=dict)

    def add(self, stage: str, stage_report: Report) -> None:
        self.summaries[stage] = stage_report.summary()
        self.exit_code = max(self.exit_code, stage_report.exit_code)

    def summary(self) -> str:
        lines = [f"{stage:<11} {text}" for stage, text in self.summaries.items()]
        if self.usage:
            u = self.usage
            lines.append(
                f"{'llm':<11} {u.get('requests', 0)} requests, {u.get('prompt_tokens', 0)} prompt + "
                f"{u.get('completion_tokens', 0)} completion tokens, {u.get('retries', 0)} retries "
                f"(429/5xx/timeouts), {u.get('invalid_replies', 0)} invalid replies re-asked"
            )
        return "\n".join(lines)


def run_all(settings: Settings, paths: list[Path], *, skip: tuple[str, ...] = ()) -> RunReport:
    """parse -> translate -> enrich -> index -> newsletter (one per digest date).

    Each stage is resumable and cached, so re-running after a crash (or on unchanged
    input) redoes nothing that is already done."""
    report = RunReport()
    with output_lock(settings.out_dir):
        parsed = parse_stage(settings, paths)
        report.add("parse", parsed)
        if not parsed.entries:
            return report
        llm = make_llm(settings)
        steps: dict[str, Callable[[], Report]] = {
            "translate": lambda: translate_stage(settings, llm=llm),
            "enrich": lambda: enrich_stage(settings, llm=llm),
            "index": lambda: index_stage(settings),
            "newsletter": lambda: newsletter_all_dates(settings, llm=llm),
        }
        for name in SKIPPABLE:
            if name not in skip:
                report.add(name, steps[name]())
        report.usage = llm.meter.snapshot()
    return report
