"""The newsletter's short intro, written by the LLM from the issue's papers (given as tagged
data, never instructions), cached in ``OUT/cache/newsletter.jsonl`` by a hash of its inputs,
the model and the prompt.  An intro the endpoint fails to write is left out; the issue is
written anyway.  The intros follow the LLM stages' abort policy and budget (cost limit,
Ctrl-C).  A written intro is checked before it is used (``text/generated.py``: the prompt
echoed, Hangul, citations or numbers the papers do not hold); one that fails the check is
replaced by a deterministic intro built from the issue's own data, and flagged
(``intros_fallback`` in the report, a warning naming the problems)."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ...errors import DigestError, Interrupted, LLMError
from ...llm.tokens import count_message_tokens
from ...progress import Progress
from ...prompts import load_prompt
from ...settings import Settings
from ...store.journal import JsonlCache
from ...store.jsonl import content_hash
from ...store.layout import OutDir
from ...text.escape import escape_data, unescape_data
from ...text.generated import check_generated, source_values
from ...text.hangul import has_hangul
from ..base import JobOutcome, JobSkipped, run_jobs
from ..budget import Budget
from ..policy import AbortPolicy
from .model import Issue

if TYPE_CHECKING:
    from ...llm.client import LLM

log = logging.getLogger(__name__)

INTRO_MAX_TOKENS = 300
INTRO_MAX_PAPERS = 15  # the intro sees the top papers only: a short prompt, a focused intro
INTRO_RETRIES = 2  # further requests when a reply is cut off or not prose


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


def _echoes(text: str, instructions: str) -> bool:
    """Does ``text`` repeat a sentence of the instructions, or the request's tags (a model that
    echoed its prompt)?"""
    flat = " ".join(text.split())
    if re.search(r"</?(?:issue|paper|topics|title|summary)\b", flat):
        return True
    sentences = re.split(r"(?<=[.:!?])\s+|\n+", instructions)
    return any(len(s) >= 40 and s in flat for s in (" ".join(x.split()) for x in sentences))


def _clean_intro(text: str, finish_reason: str, instructions: str = "") -> str | None:
    text = unescape_data(text.strip())  # the issue went to the model escaped
    if text.startswith("```"):
        text = text.strip("`").strip()
    if _not_prose(text):
        log.warning("the newsletter intro came back as JSON or code, not prose; leaving it out")
        return None
    if _echoes(text, instructions):
        log.warning("the newsletter intro repeats its prompt; leaving it out")
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


class _Rejected(DigestError):
    """A written intro that failed its check."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass
class _IntroJob:
    key: str
    issue: Issue
    request: str


def intro_problems(text: str, issue: Issue, prompt_text: str, request: str) -> list[str]:
    """What is wrong with a written intro (empty: it may be published)."""
    ids = [p.arxiv_id for p in issue.papers if p.arxiv_id]
    return check_generated(
        text,
        language="en",
        prompt=prompt_text,
        source_numbers_=source_values([], [request, issue.date_label]),
        allowed_citations=ids,
    )


def fallback_intro(issue: Issue) -> str:
    """A plain intro from the issue's own data, for when the written one fails its check."""
    groups = sorted(issue.groups, key=lambda g: -len(g.papers))[:2]
    themes = " and ".join(g.label for g in groups)
    top = [p.title.split(":")[0].strip() for p in issue.papers[:3]]
    n = len(issue.papers)
    text = f"{n} paper{'s' if n != 1 else ''} in this issue"
    text += f", most of them on {themes}." if themes else "."
    if top:
        named = top[0] if len(top) == 1 else ", ".join(top[:-1]) + " and " + top[-1]
        text += f" The most up-voted: {named}."
    return text


def _intro_key(settings: Settings, llm_id: str, prompt_sha: str, request: str) -> str:
    return content_hash("newsletter-intro", request, llm_id, settings.llm.temperature, prompt_sha, length=24)


@dataclass
class IntroCounts:
    written: int = 0
    cached: int = 0
    failed: int = 0
    not_attempted: int = 0  # never sent: the run stopped first
    stopped: str = ""  # why (abort policy, cost limit)
    cost_stop: bool = False
    fallback: int = 0  # written, failed the check, replaced by the deterministic intro


def write_intros(settings: Settings, issues: list[Issue], llm: LLM | None) -> IntroCounts:
    """Fill ``issue.intro`` from the cache, else from the LLM (journaled as it arrives)."""
    counts = IntroCounts()
    prompt = load_prompt(settings, settings.newsletter.prompt)
    cache = JsonlCache(OutDir(settings.out_dir).journal_path("newsletter"))
    cfg = settings.llm
    llm_id = f"{cfg.provider}|{cfg.base_url or cfg.azure_endpoint or ''}|{cfg.chat_model}"
    jobs: list[_IntroJob] = []
    for issue in issues:
        if not issue.papers:
            continue
        request = _intro_request(issue)
        key = _intro_key(settings, llm_id, prompt.sha, request)
        cached = cache.get(key)
        if isinstance(cached, dict) and cached.get("text"):
            issue.intro = cached["text"]
            counts.cached += 1
        else:
            jobs.append(_IntroJob(key, issue, request))
    if not jobs:
        return counts
    if llm is None:
        try:
            from ...llm.client import make_llm  # the openai SDK is slow to import: only when needed

            llm = make_llm(settings)
        except DigestError as exc:
            log.warning("newsletter intro skipped: %s", exc)
            counts.failed += len(jobs)
            return counts
    the_llm = llm
    budget = Budget(settings, llm.meter, 0)
    policy = AbortPolicy(settings.llm.abort_after_failures)

    def ask(messages: list[dict]) -> Any:
        with budget.request(count_message_tokens(messages, the_llm.model), INTRO_MAX_TOKENS, first=True):
            return the_llm.complete(messages, max_tokens=INTRO_MAX_TOKENS)

    def write(job: _IntroJob) -> str | None:
        policy.check()
        messages = [
            {"role": "system", "content": prompt.text},
            {"role": "user", "content": job.request},
        ]
        comp = ask(messages)
        for _ in range(INTRO_RETRIES):  # cut off or garbled (a flaky endpoint?): ask again
            if comp.finish_reason != "length" and not _not_prose(comp.text):
                break
            comp = ask(messages)
        text = _clean_intro(comp.text, comp.finish_reason, prompt.text)
        if text is None:
            return None
        problems = intro_problems(text, job.issue, prompt.text, job.request)
        if problems:
            raise _Rejected(problems)
        return text

    def on_result(out: JobOutcome[_IntroJob, str | None]) -> None:
        job = out.job
        if isinstance(out.error, JobSkipped):
            return
        if isinstance(out.error, _Rejected):
            policy.succeeded()  # the endpoint answered; its text failed the check
            counts.fallback += 1
            job.issue.intro = fallback_intro(job.issue)
            log.warning(
                "newsletter intro for %s failed its check (%s): replaced by a plain one (flagged, not cached)",
                job.issue.slug,
                ", ".join(out.error.problems),
            )
            return
        if out.error is not None:
            counts.failed += 1
            err = policy.failed(out.error)
            log.warning("newsletter intro for %s failed (%s); writing it without one", job.issue.slug, err)
            return
        if not out.result:
            counts.failed += 1
            policy.failed(LLMError("no usable intro in the reply"))
            log.warning("newsletter intro for %s came back empty; writing it without one", job.issue.slug)
            return
        policy.succeeded()
        job.issue.intro = out.result
        cache.put(job.key, {"text": out.result, "model": the_llm.model})
        counts.written += 1

    with Progress(len(jobs), "newsletter intros", mode=settings.progress, unit="intro") as progress:
        try:
            run_jobs(
                jobs,
                write,
                concurrency=settings.llm.concurrency,
                progress=progress,
                on_result=on_result,
                cancel=budget.cancelled,
                on_cancel=lambda: the_llm.client.close(),
            )
        except KeyboardInterrupt:
            raise Interrupted(
                f"newsletter interrupted: {counts.written} intros written before the interrupt; "
                "no issue was written"
            ) from None
    if policy.fatal is not None:
        log.warning("newsletter intros skipped: %s", policy.fatal)
    counts.not_attempted = len(jobs) - counts.written - counts.failed
    counts.stopped = policy.stopped_early and f"stopped: {policy.stopped_early}" or budget.halted or ""
    counts.cost_stop = budget.halted is not None and not policy.stopped_early
    return counts
