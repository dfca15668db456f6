"""Newsletter stage: entries + translations + metadata -> English newsletters in
``OUT/newsletter/`` as Markdown, a standalone HTML page and an RSS 2.0 feed.

One issue per digest date (or one for a date range).  An optional short intro is
written by the LLM and cached in ``OUT/cache/newsletter.jsonl`` by a hash of its
inputs, the model and the prompt; if the LLM fails the issue is written without it.
Outputs are rendered from templates and written atomically; the same inputs give
byte-identical files (no wall-clock timestamps).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date as Date
from pathlib import Path
from typing import TYPE_CHECKING

from ...errors import ConfigError, CostLimitError, InputError
from ...records import Entry, Metadata, SectionTranslation
from ...settings import Settings
from ...store.jsonl import write_text_atomic
from ...store.layout import OutDir
from ...store.lock import writes_output
from .formats import Format, check_formats
from .intro import write_intros
from .model import Issue, build_issue, entry_dates, latest_issue
from .render import SITE_URL_FALLBACK, render

if TYPE_CHECKING:
    from ...llm.client import LLM

log = logging.getLogger(__name__)

PUBLISHED_MODE = 0o644


@dataclass
class NewsletterReport:
    paths: list[Path] = field(default_factory=list)
    issues: int = 0
    papers: int = 0
    translation_pending: int = 0
    metadata_pending: int = 0
    intros_written: int = 0
    intros_cached: int = 0
    intros_failed: int = 0
    intros_not_attempted: int = 0
    intros_stopped: str = ""  # why the intros stopped early (abort policy, cost limit)
    cost_stop: bool = False
    intros_fallback: int = 0  # failed the check: replaced by a plain intro
    intro_requested: bool = True
    out_dir: Path | None = None
    feed_path: Path | None = None  # the cumulative feed, rewritten whenever RSS is written
    feed_items: int = 0

    @property
    def exit_code(self) -> int:
        # a failed intro is reported, not fatal; a failure raises; the cost limit is the user's
        return CostLimitError.exit_code if self.cost_stop else 0

    @property
    def stopped(self) -> str:
        return self.intros_stopped

    @property
    def failure(self) -> str:
        """The cost limit stopped the intros (other intro failures are not fatal)."""
        return f"newsletter intros {self.intros_stopped}" if self.cost_stop else ""

    def summary(self) -> str:
        where = f" -> {self.out_dir}" if self.out_dir else ""
        parts = [f"{self.issues} newsletter issue(s), {len(self.paths)} files, {self.papers} papers{where}"]
        if self.intro_requested:
            intro = f"intro: {self.intros_written} written, {self.intros_cached} cached, {self.intros_failed} failed"
            if self.intros_not_attempted:
                intro += f", {self.intros_not_attempted} not attempted"
            if self.intros_stopped:
                intro += f" ({self.intros_stopped})"
            if self.intros_fallback:
                intro += f", {self.intros_fallback} replaced by a plain one"
            parts.append(intro)
        else:
            parts.append("intro: skipped")
        pending = []
        if self.translation_pending:
            pending.append(f"{self.translation_pending} translation pending")
        if self.metadata_pending:
            pending.append(f"{self.metadata_pending} metadata pending")
        if pending:
            parts.append(", ".join(pending))
        if self.feed_path is not None:
            parts.append(f"feed: the latest {self.feed_items} papers in {self.feed_path.name}")
        return "; ".join(parts)


# -- inputs ----------------------------------------------------------------------------


@dataclass
class _Inputs:
    entries: list[Entry]
    translations: list[SectionTranslation]
    metadata: list[Metadata]


def _load_inputs(settings: Settings) -> _Inputs:
    out = OutDir(settings.out_dir)
    entries = out.load_entries()
    tr_path, md_path = out.translations_path, out.metadata_path
    translations = out.load_translations()
    metadata = out.load_metadata()
    if not tr_path.exists():
        log.warning("%s not found: papers are shown untranslated (run `digest translate`)", tr_path)
    if not md_path.exists():
        log.warning("%s not found: papers have no TL;DR or topic (run `digest enrich`)", md_path)
    return _Inputs(entries, translations, metadata)


def _all_dates(entries: Iterable[Entry]) -> list[Date]:
    return sorted({d for e in entries for d in entry_dates(e)})


def _select(entries: list[Entry], since: Date | None, until: Date | None) -> list[Entry]:
    if since is None and until is None:
        return [e for e in entries if not entry_dates(e)]
    assert since is not None and until is not None
    return [e for e in entries if any(since <= d <= until for d in entry_dates(e))]


def resolve_range(
    dates: list[Date], *, date: Date | None, since: Date | None, until: Date | None
) -> tuple[Date | None, Date | None]:
    """The (since, until) of the issue: one date, a range (open ends filled from the
    data), or by default the latest digest date.  (None, None): undated entries only."""
    if date is not None and (since is not None or until is not None):
        raise ConfigError("give either --date or --since/--until, not both")
    if date is not None:
        return date, date
    if since is None and until is None:
        if not dates:
            return None, None
        return dates[-1], dates[-1]
    lo = since or (dates[0] if dates else until)
    hi = until or (dates[-1] if dates else since)
    assert lo is not None and hi is not None
    if lo > hi:
        raise ConfigError(f"--since {lo} is after --until {hi}: the date range is empty")
    return lo, hi


# -- writing ---------------------------------------------------------------------------


def _publish(path: Path, text: str) -> None:
    write_text_atomic(path, text)
    path.chmod(PUBLISHED_MODE)  # mkstemp makes 0600 files; newsletters are meant to be served
    log.debug("wrote %s", path)


def _render(settings: Settings, issue: Issue, fmt: Format, **extra: object) -> str:
    return render(issue, fmt, settings.templates_dir, **extra)


def _write_issue(settings: Settings, issue: Issue, formats: list[Format], report: NewsletterReport) -> None:
    out_dir = OutDir(settings.out_dir).newsletter_dir
    for fmt in formats:
        path = out_dir / f"{issue.slug}{fmt.suffix}"
        _publish(path, _render(settings, issue, fmt, cumulative=False))
        report.paths.append(path)
    report.issues += 1
    report.papers += len(issue.papers)
    report.translation_pending += issue.translation_pending
    report.metadata_pending += issue.metadata_pending
    report.out_dir = out_dir


def _make_issue(settings: Settings, inputs: _Inputs, since: Date | None, until: Date | None) -> Issue:
    cfg = settings.newsletter
    return build_issue(
        _select(inputs.entries, since, until),
        inputs.translations,
        inputs.metadata,
        since=since,
        until=until,
        title=cfg.title,
        top_n=cfg.top_n,
        site_url=cfg.site_url,
    )


def _write_feed(settings: Settings, inputs: _Inputs, fmt: Format, report: NewsletterReport) -> None:
    """The cumulative feed beside the per-issue ones: the latest papers of every date."""
    path = OutDir(settings.out_dir).feed_path
    cfg = settings.newsletter
    feed = latest_issue(
        inputs.entries,
        inputs.translations,
        inputs.metadata,
        title=cfg.title,
        limit=cfg.feed_items,
        slug=path.stem,
        site_url=cfg.site_url,
    )
    if not feed.papers:
        return
    _publish(path, _render(settings, feed, fmt, cumulative=True))
    report.feed_path, report.feed_items = path, len(feed.papers)


def _warn_without_site_url(settings: Settings, formats: list[Format]) -> None:
    if settings.newsletter.site_url is None and any(f.name == "rss" for f in formats):
        log.warning(
            "newsletter.site_url is not set: the RSS feeds link to %s and name no address of "
            "their own; set it to where the newsletters are published ([newsletter] site_url in "
            "digest.toml, or DIGEST_NEWSLETTER__SITE_URL)",
            SITE_URL_FALLBACK,
        )


def _write_all(
    settings: Settings,
    issues: list[Issue],
    formats: list[Format],
    intro: bool,
    llm: LLM | None,
    inputs: _Inputs,
) -> NewsletterReport:
    _warn_without_site_url(settings, formats)
    report = NewsletterReport(intro_requested=intro)
    if intro:
        counts = write_intros(settings, issues, llm)
        report.intros_written, report.intros_cached, report.intros_failed, report.intros_fallback = (
            counts.written,
            counts.cached,
            counts.failed,
            counts.fallback,
        )
        report.intros_not_attempted, report.intros_stopped = counts.not_attempted, counts.stopped
        report.cost_stop = counts.cost_stop
    for issue in issues:
        _write_issue(settings, issue, formats, report)
    rss = next((f for f in formats if f.name == "rss"), None)
    if rss is not None:
        _write_feed(settings, inputs, rss, report)
    return report


@writes_output
def newsletter_stage(
    settings: Settings,
    *,
    date: Date | None = None,
    since: Date | None = None,
    until: Date | None = None,
    formats: list[str] | None = None,
    intro: bool | None = None,
    llm: LLM | None = None,
) -> NewsletterReport:
    """``digest newsletter``: one issue for ``date``, for ``since``..``until`` (either end
    may be open), or by default for the latest digest date."""
    fmts = check_formats(formats or settings.newsletter.formats)
    use_intro = settings.newsletter.intro if intro is None else intro
    resolve_range([], date=date, since=since, until=until)  # a bad range: an error before loading
    inputs = _load_inputs(settings)
    dates = _all_dates(inputs.entries)
    lo, hi = resolve_range(dates, date=date, since=since, until=until)
    issue = _make_issue(settings, inputs, lo, hi)
    if not issue.papers:
        known = ", ".join(d.isoformat() for d in dates) or "none"
        what = f"on {lo}" if lo == hi else f"between {lo} and {hi}"
        raise InputError(f"no papers {what}; digest dates in {settings.out_dir}: {known}")
    return _write_all(settings, [issue], fmts, use_intro, llm, inputs)


@writes_output
def newsletter_all_dates(settings: Settings, llm: LLM | None = None) -> NewsletterReport:
    """One issue per digest date (used by ``digest run``)."""
    fmts = check_formats(settings.newsletter.formats)
    inputs = _load_inputs(settings)
    issues = [_make_issue(settings, inputs, d, d) for d in _all_dates(inputs.entries)]
    undated = _make_issue(settings, inputs, None, None)
    if undated.papers:
        issues.append(undated)
    return _write_all(settings, issues, fmts, settings.newsletter.intro, llm, inputs)
