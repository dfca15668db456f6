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
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date as Date
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import ConfigError, DigestError, InputError
from .newsletter_model import Issue, build_issue, entry_dates
from .newsletter_render import FORMATS, render
from .progress import Progress
from .records import Entry, Metadata, SectionTranslation
from .settings import Settings
from .stages.base import JobOutcome, run_jobs
from .store.journal import JsonlCache
from .store.jsonl import content_hash, write_text_atomic
from .store.layout import OutDir
from .text.escape import escape_data
from .text.hangul import has_hangul

if TYPE_CHECKING:
    from .llm import LLM

log = logging.getLogger(__name__)

INTRO_MAX_TOKENS = 300
INTRO_MAX_PAPERS = 15  # the intro sees the top papers only: a short prompt, a focused intro
INTRO_RETRIES = 2  # further requests when a reply is cut off or not prose
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
    intro_requested: bool = True
    out_dir: Path | None = None

    @property
    def exit_code(self) -> int:
        return 0  # a failed intro is reported, not fatal; a failure raises

    def summary(self) -> str:
        where = f" -> {self.out_dir}" if self.out_dir else ""
        parts = [f"{self.issues} newsletter issue(s), {len(self.paths)} files, {self.papers} papers{where}"]
        if self.intro_requested:
            parts.append(
                f"intro: {self.intros_written} written, {self.intros_cached} cached, {self.intros_failed} failed"
            )
        else:
            parts.append("intro: skipped")
        pending = []
        if self.translation_pending:
            pending.append(f"{self.translation_pending} translation pending")
        if self.metadata_pending:
            pending.append(f"{self.metadata_pending} metadata pending")
        if pending:
            parts.append(", ".join(pending))
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
        raise ConfigError(f"--since {lo} is after --until {hi}")
    return lo, hi


def _check_formats(formats: Iterable[str] | None, settings: Settings) -> list[str]:
    chosen = list(formats) if formats else list(settings.newsletter.formats)
    out: list[str] = []
    for f in chosen:
        f = f.strip().lower()
        if f == "xml" or f == "feed":
            f = "rss"
        if f == "markdown":
            f = "md"
        if f not in FORMATS:
            raise ConfigError(f"unknown newsletter format {f!r}; choose from {', '.join(FORMATS)}")
        if f not in out:
            out.append(f)
    if not out:
        raise ConfigError("no newsletter format chosen")
    return out


# -- the intro -------------------------------------------------------------------------


def _intro_request(issue: Issue) -> str:
    """The user message: the issue's papers as tagged data (never instructions)."""
    lines = [f'<issue dates="{issue.date_label}" papers="{len(issue.papers)}">']
    counts = ", ".join(f"{g.label}: {len(g.papers)}" for g in issue.groups)
    lines.append(f"<topics>{escape_data(counts)}</topics>")
    for p in issue.papers[:INTRO_MAX_PAPERS]:
        summary = p.tldr or p.summary or ""
        votes = "" if p.votes is None else str(p.votes)
        lines.append(
            f'<paper votes="{votes}" topic="{escape_data(p.topic_label, attribute=True)}">'
            f"<title>{escape_data(p.title)}</title>"
            + (f"<summary>{escape_data(summary)}</summary>" if summary else "")
            + "</paper>"
        )
    lines.append("</issue>")
    return "\n".join(lines)


def _not_prose(text: str) -> bool:
    """A reply that opens like JSON or code is no intro (a garbled or misrouted reply)."""
    return text.lstrip().startswith(("{", "["))


def _clean_intro(text: str, finish_reason: str) -> str | None:
    text = text.strip()
    if text.startswith("```"):
        text = text.strip("`").strip()
    if _not_prose(text):
        log.warning("the newsletter intro came back as JSON or code, not prose; leaving it out")
        return None
    if finish_reason == "length":  # cut off: keep whole sentences only
        cut = max(text.rfind(". "), text.rfind(".\n"), text.rfind("."))
        text = text[: cut + 1] if cut > 0 else ""
    text = "\n\n".join(" ".join(p.split()) for p in re.split(r"\n\s*\n", text) if p.strip())
    if not text:
        return None
    if has_hangul(text):
        log.warning("the newsletter intro came back with Korean text; leaving it out")
        return None
    return text


@dataclass
class _IntroJob:
    key: str
    issue: Issue
    request: str


def _intro_key(settings: Settings, llm_id: str, prompt_sha: str, request: str) -> str:
    return content_hash("newsletter-intro", request, llm_id, settings.llm.temperature, prompt_sha, length=24)


def _write_intros(settings: Settings, issues: list[Issue], llm: LLM | None, report: NewsletterReport) -> None:
    """Fill ``issue.intro`` from the cache, else from the LLM (journaled as it arrives)."""
    from .prompts import load_prompt

    prompt = load_prompt(settings, settings.newsletter.prompt)
    cache = JsonlCache(OutDir(settings.out_dir).journal_path("newsletter"))
    llm_id = f"{settings.llm.provider}|{settings.llm.base_url or ''}|{settings.llm.chat_model}"
    jobs: list[_IntroJob] = []
    for issue in issues:
        if not issue.papers:
            continue
        request = _intro_request(issue)
        key = _intro_key(settings, llm_id, prompt.sha, request)
        cached = cache.get(key)
        if isinstance(cached, dict) and cached.get("text"):
            issue.intro = cached["text"]
            report.intros_cached += 1
        else:
            jobs.append(_IntroJob(key, issue, request))
    if not jobs:
        return
    if llm is None:
        try:
            from .llm import make_llm

            llm = make_llm(settings)
        except DigestError as exc:
            log.warning("newsletter intro skipped: %s", exc)
            report.intros_failed += len(jobs)
            return
    the_llm = llm

    def write(job: _IntroJob) -> str | None:
        messages = [
            {"role": "system", "content": prompt.text},
            {"role": "user", "content": job.request},
        ]
        comp = the_llm.complete(messages, max_tokens=INTRO_MAX_TOKENS)
        for _ in range(INTRO_RETRIES):  # cut off or garbled (a flaky endpoint?): ask again
            if comp.finish_reason != "length" and not _not_prose(comp.text):
                break
            comp = the_llm.complete(messages, max_tokens=INTRO_MAX_TOKENS)
        return _clean_intro(comp.text, comp.finish_reason)

    def on_result(out: JobOutcome[_IntroJob, str | None]) -> None:
        job = out.job
        if out.error is not None:
            report.intros_failed += 1
            if isinstance(out.error, DigestError):
                log.warning(
                    "newsletter intro for %s failed (%s); writing it without one", job.issue.slug, out.error
                )
            else:
                log.warning(
                    "newsletter intro for %s failed (%s); writing it without one",
                    job.issue.slug,
                    type(out.error).__name__,
                )
            return
        if not out.result:
            report.intros_failed += 1
            log.warning("newsletter intro for %s came back empty; writing it without one", job.issue.slug)
            return
        job.issue.intro = out.result
        cache.put(job.key, {"text": out.result, "model": the_llm.model})
        report.intros_written += 1

    with Progress(len(jobs), "newsletter intros", mode=settings.progress, unit="intro") as progress:
        run_jobs(jobs, write, concurrency=settings.llm.concurrency, progress=progress, on_result=on_result)


# -- writing ---------------------------------------------------------------------------


def _write_issue(settings: Settings, issue: Issue, formats: list[str], report: NewsletterReport) -> None:
    out_dir = OutDir(settings.out_dir).newsletter_dir
    for fmt in formats:
        text = render(issue, fmt, settings.templates_dir)
        path = out_dir / f"{issue.slug}{FORMATS[fmt][1]}"
        write_text_atomic(path, text)
        path.chmod(PUBLISHED_MODE)  # mkstemp makes 0600 files; newsletters are meant to be served
        report.paths.append(path)
        log.debug("wrote %s", path)
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


def _write_all(
    settings: Settings, issues: list[Issue], formats: list[str], intro: bool, llm: LLM | None
) -> NewsletterReport:
    report = NewsletterReport(intro_requested=intro)
    if intro:
        _write_intros(settings, issues, llm, report)
    for issue in issues:
        _write_issue(settings, issue, formats, report)
    return report


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
    fmts = _check_formats(formats, settings)
    use_intro = settings.newsletter.intro if intro is None else intro
    inputs = _load_inputs(settings)
    dates = _all_dates(inputs.entries)
    lo, hi = resolve_range(dates, date=date, since=since, until=until)
    issue = _make_issue(settings, inputs, lo, hi)
    if not issue.papers:
        known = ", ".join(d.isoformat() for d in dates) or "none"
        what = f"on {lo}" if lo == hi else f"between {lo} and {hi}"
        raise InputError(f"no papers {what}; digest dates in {settings.out_dir}: {known}")
    return _write_all(settings, [issue], fmts, use_intro, llm)


def newsletter_all_dates(settings: Settings, llm: LLM | None = None) -> NewsletterReport:
    """One issue per digest date (used by ``digest run``; the caller holds the output lock)."""
    fmts = _check_formats(None, settings)
    inputs = _load_inputs(settings)
    issues = [_make_issue(settings, inputs, d, d) for d in _all_dates(inputs.entries)]
    undated = _make_issue(settings, inputs, None, None)
    if undated.papers:
        issues.append(undated)
    return _write_all(settings, issues, fmts, settings.newsletter.intro, llm)
