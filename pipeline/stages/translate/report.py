"""The translate stage's report: translated, flagged and NOT translated add up to the
sections; what a re-run still has to do; why the stage failed as a whole."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ...errors import CostLimitError, LLMError
from ..policy import stage_failure


@dataclass
class TranslateReport:
    sections: int = 0
    translated: int = 0  # English, no flag (incl. memory, cache, already English)
    flagged: int = 0  # English, kept with flags to review
    untranslated: int = 0  # left in Korean: failed or not attempted (a re-run retries them)
    not_attempted: int = 0  # of the untranslated: never sent (the stage stopped first)
    origins: Counter[str] = field(default_factory=Counter)  # of the translated and flagged
    segments_sent: int = 0
    batches: int = 0
    failed_batches: int = 0
    saved: int = 0  # segment results journaled by this run
    stopped: str = ""  # why the stage stopped early (abort policy, cost limit)
    cost_stop: bool = False
    all_failed: str = ""  # every request failed: the last error
    endpoint_works: bool = True  # the endpoint answered (usably or not): later stages may go on
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    http_retries: int = 0
    regroups: int = 0  # replies that did not line up / could not be parsed -> smaller groups
    fix_retries: int = 0  # segments re-asked with their validation problems
    gave_up: int = 0  # segments left without a usable reply within the retry budget
    cost: float = 0.0
    batch_cost: float = 0.0  # the same requests through the Batch API (half price)
    price_basis: str = ""  # --dry-run: model and prices the cost is estimated with
    dry_run: bool = False
    glossary_terms: int = 0
    glossary_added: int = 0
    glossary_path: Path | None = None
    out_path: Path | None = None
    memory_files: Counter[Path] = field(default_factory=Counter)  # sections taken whole, by file
    reviewed_memory: Path | None = None  # the shipped memory of reviewed translations

    def memory_line(self) -> str:
        """ "444/444 sections from the reviewed translation memory (seeds/memory.jsonl)"."""
        n = sum(self.memory_files.values())
        if not n:
            return ""
        files = sorted(self.memory_files, key=lambda p: (-self.memory_files[p], str(p)))
        reviewed = files == [self.reviewed_memory]
        which = "the reviewed translation memory" if reviewed else "the translation memory"
        names = ", ".join(short_path(p) for p in files)
        return f"{n}/{self.sections} sections from {which} ({names})"

    @property
    def exit_code(self) -> int:
        if self.cost_stop:
            return CostLimitError.exit_code
        return LLMError.exit_code if self.untranslated else 0

    @property
    def left(self) -> str:
        """What a re-run still has to do ("" when nothing)."""
        return (
            f"{self.untranslated} sections not translated" if self.untranslated and not self.dry_run else ""
        )

    @property
    def failure(self) -> str:
        """Why the stage failed as a whole ("" when it did not): stopped early, or every
        request failed; and whether anything was saved."""
        return stage_failure("translate", self.stopped, self.all_failed, self.saved, "segments")

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
        parts = []
        untranslated = f"{self.untranslated} NOT translated"
        if self.not_attempted:
            untranslated += f" ({self.not_attempted} not attempted)"
        parts.append(
            f"{self.sections} sections: {self.translated} translated, {self.flagged} flagged, {untranslated} "
            f"(done by model {o.get('model', 0)}, cache {o.get('cache', 0)}, memory {o.get('memory', 0)}, "
            f"already English {o.get('source', 0)})"
        )
        if self.memory_files:
            parts.append(self.memory_line())
        retries = f"{self.http_retries} HTTP retries, {self.regroups} regrouped, {self.fix_retries} segments re-asked"
        if self.failed_batches:
            retries += f", {self.failed_batches} failed"
        if self.gave_up:
            retries += f", {self.gave_up} segments given up within the retry budget"
        parts.append(f"{self.requests} requests ({retries})")
        parts.append(
            f"{self.prompt_tokens} prompt + {self.completion_tokens} completion tokens, ${self.cost:.4f}"
        )
        parts.append(f"glossary {self.glossary_terms} terms ({self.glossary_added} added)")
        if self.out_path:
            parts.append(f"-> {self.out_path}")
        return "; ".join(parts)


def short_path(path: Path) -> str:
    """A path as the user would type it: relative to the working folder when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
