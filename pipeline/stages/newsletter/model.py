"""The newsletter's view-model: entries + translations + metadata -> one ``Issue``.

Pure data, no I/O and no markup: templates decide the look, and escape every
string that came from the data.  Ordering is deterministic (votes desc, then title).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date as Date
from urllib.parse import urlsplit

from ... import taxonomy
from ...records import Entry, KeyResult, Metadata, SectionTranslation
from ...text.hangul import has_hangul
from ...text.urls import arxiv_abs_url

UNCATEGORISED = "Uncategorised"
MAX_AUTHORS = 3
MAX_KEY_RESULTS = 3
MAX_METRIC_CHARS = 80
MAX_CONTEXT_CHARS = 120  # key results are a glance, not a paragraph


@dataclass
class PaperView:
    id: str
    arxiv_id: str | None
    url: str | None  # http(s) only; None when the entry has no safe link
    title: str
    authors: str  # "A, B, C et al."
    votes: int | None
    date: Date | None
    topic: str | None  # taxonomy value ("language_models") or None
    topic_label: str
    tldr: str | None
    summary: str | None  # English section text, shown when there is no TL;DR
    summary_label: str | None
    korean: str | None  # Korean original, last resort (shown marked)
    key_results: list[KeyResult] = field(default_factory=list)
    code_url: str | None = None
    project_url: str | None = None
    translation_pending: bool = False
    metadata_pending: bool = False

    @property
    def guid(self) -> str:
        return f"arxiv:{self.arxiv_id}" if self.arxiv_id else f"digest:{self.id}"

    @property
    def votes_label(self) -> str:
        if self.votes is None:
            return ""
        return f"{self.votes} vote" + ("" if self.votes == 1 else "s")


@dataclass
class TopicGroup:
    topic: str | None
    label: str
    papers: list[PaperView]


@dataclass
class Issue:
    """One newsletter: a day or a range of days."""

    title: str
    date_label: str  # "21 October 2024" or "21 – 22 October 2024"
    since: Date | None
    until: Date | None
    slug: str  # file stem: digest-2024-10-21 or digest-2024-10-21_2024-10-22
    papers: list[PaperView]  # all, votes desc then title
    top: list[PaperView]
    groups: list[TopicGroup]
    intro: str | None = None
    site_url: str = ""  # "" when newsletter.site_url is unset

    @property
    def translation_pending(self) -> int:
        return sum(p.translation_pending for p in self.papers)

    @property
    def metadata_pending(self) -> int:
        return sum(p.metadata_pending for p in self.papers)

    @property
    def intro_paragraphs(self) -> list[str]:
        if not self.intro:
            return []
        return [" ".join(p.split()) for p in re.split(r"\n\s*\n", self.intro) if p.strip()]


# -- helpers -------------------------------------------------------------------------


def safe_url(url: str | None) -> str | None:
    """``url`` if it is an absolute http(s) URL, else None (no javascript:, data:, …)."""
    if not url:
        return None
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    if any(c.isspace() or ord(c) < 32 for c in url):
        return None
    return url


def short_authors(authors: list[str], limit: int = MAX_AUTHORS) -> str:
    names = [" ".join(a.split()) for a in authors if a and a.strip()]
    if len(names) <= limit:
        return ", ".join(names)
    return ", ".join(names[:limit]) + " et al."


def paper_url(entry: Entry) -> str | None:
    return arxiv_abs_url(entry.arxiv_id) or safe_url(entry.url)


def entry_dates(entry: Entry) -> set[Date]:
    """Every digest date an entry was seen on (it may appear in several digests)."""
    dates = {p.date for p in entry.provenance if p.date is not None}
    if entry.date is not None:
        dates.add(entry.date)
    return dates


def sort_key(p: PaperView) -> tuple[int, str, str]:
    votes = p.votes if p.votes is not None else -1
    return (-votes, p.title.casefold(), p.id)


def normalise_topic(value: str | None) -> str | None:
    if not value or not value.strip():
        return None
    try:
        return taxonomy.parse_topic(value).value
    except ValueError:
        return value.strip()


def _topic_rank(topic: str | None) -> int:
    order = [t.value for t in taxonomy.Topic]
    if topic is None:
        return len(order) + 2
    if topic == taxonomy.Topic.OTHER.value:
        return len(order) + 1
    return order.index(topic) if topic in order else len(order)


def _one_line(text: str | None) -> str | None:
    if text is None:
        return None
    text = " ".join(text.split())
    return text or None


def clip(text: str, limit: int) -> str:
    """``text`` cut at a word boundary to at most ``limit`` characters, with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0] if " " in text[: limit - 1] else text[: limit - 1]
    return cut.rstrip(" ,;:.") + "…"


# -- building --------------------------------------------------------------------------


def build_paper(entry: Entry, translations: list[SectionTranslation], meta: Metadata | None) -> PaperView:
    by_index = {t.index: t for t in translations if t.text and t.text.strip()}
    n_sections = len(entry.sections)
    translated_all = n_sections == 0 or all(i in by_index for i in range(n_sections))
    # an "English" translation that still holds Hangul was not really translated
    hangul_left = any(has_hangul(t.text) for t in by_index.values())
    translation_pending = not translated_all or hangul_left

    tldr = _one_line(meta.tldr) if meta else None
    topic = normalise_topic(meta.topic) if meta else None
    metadata_pending = meta is None or meta.llm_status != "ok" or (tldr is None and topic is None)

    summary = summary_label = korean = None
    if tldr is None:
        english = [by_index[i] for i in sorted(by_index) if not has_hangul(by_index[i].text)]
        if english:
            first = english[0]
            summary, summary_label = _one_line(first.text), first.label
        elif entry.sections:
            korean = _one_line(entry.sections[0].text)

    code = project = None
    if meta:
        code = next((u for u in map(safe_url, meta.code_urls) if u), None)
        project = next((u for u in map(safe_url, meta.project_urls) if u), None)
    votes = entry.votes if entry.votes is not None else (meta.votes if meta else None)
    authors = entry.authors or (meta.authors if meta else [])
    key_results = [
        KeyResult(
            metric=clip(_one_line(k.metric) or "", MAX_METRIC_CHARS),
            value=clip(_one_line(k.value) or "", MAX_METRIC_CHARS),
            context=clip(_one_line(k.context) or "", MAX_CONTEXT_CHARS),
        )
        for k in (meta.key_results if meta else [])
        if (k.metric or "").strip() and (k.value or "").strip()
    ][:MAX_KEY_RESULTS]

    return PaperView(
        id=entry.id,
        arxiv_id=entry.arxiv_id,
        url=paper_url(entry),
        title=_one_line(entry.title) or entry.id,
        authors=short_authors(authors),
        votes=votes,
        date=entry.date,
        topic=topic,
        topic_label=taxonomy.label(topic) if topic else UNCATEGORISED,
        tldr=tldr,
        summary=summary,
        summary_label=summary_label,
        korean=korean,
        key_results=key_results,
        code_url=code,
        project_url=project,
        translation_pending=translation_pending,
        metadata_pending=metadata_pending,
    )


def group_by_topic(papers: list[PaperView]) -> list[TopicGroup]:
    """Topics by paper count (desc), ties in taxonomy order; "Other", then "Uncategorised", last."""
    buckets: dict[str | None, list[PaperView]] = defaultdict(list)
    for p in papers:
        buckets[p.topic].append(p)

    def key(topic: str | None) -> tuple[int, int, int, str]:
        tail = topic is None or topic == taxonomy.Topic.OTHER.value
        return (int(tail), -len(buckets[topic]), _topic_rank(topic), topic or "")

    return [
        TopicGroup(topic=t, label=buckets[t][0].topic_label, papers=sorted(buckets[t], key=sort_key))
        for t in sorted(buckets, key=key)
    ]


def date_label(since: Date | None, until: Date | None) -> str:
    if since is None or until is None:
        return "undated papers"
    if since == until:
        return f"{since.day} {since:%B %Y}"
    if (since.year, since.month) == (until.year, until.month):
        return f"{since.day} – {until.day} {until:%B %Y}"
    if since.year == until.year:
        return f"{since.day} {since:%B} – {until.day} {until:%B %Y}"
    return f"{since.day} {since:%B %Y} – {until.day} {until:%B %Y}"


def issue_slug(since: Date | None, until: Date | None) -> str:
    if since is None or until is None:
        return "digest-undated"
    if since == until:
        return f"digest-{since.isoformat()}"
    return f"digest-{since.isoformat()}_{until.isoformat()}"


def build_issue(
    entries: Iterable[Entry],
    translations: Iterable[SectionTranslation],
    metadata: Iterable[Metadata],
    *,
    since: Date | None,
    until: Date | None,
    title: str,
    top_n: int,
    site_url: str | None = "",
) -> Issue:
    """The issue for ``entries`` (already selected for the dates); each entry appears once."""
    tr_by_entry: dict[str, list[SectionTranslation]] = defaultdict(list)
    for t in translations:
        tr_by_entry[t.entry_id].append(t)
    meta_by_entry: dict[str, Metadata] = {}
    for m in metadata:
        meta_by_entry[m.entry_id] = m  # the last record of an entry wins (journals append)

    seen: set[str] = set()
    papers: list[PaperView] = []
    for e in entries:
        if e.id in seen:
            continue
        seen.add(e.id)
        papers.append(build_paper(e, tr_by_entry.get(e.id, []), meta_by_entry.get(e.id)))
    papers.sort(key=sort_key)
    return Issue(
        title=title,
        date_label=date_label(since, until),
        since=since,
        until=until,
        slug=issue_slug(since, until),
        papers=papers,
        top=papers[: max(0, top_n)],
        groups=group_by_topic(papers),
        site_url=(site_url or "").rstrip("/"),
    )


def latest_issue(
    entries: Iterable[Entry],
    translations: Iterable[SectionTranslation],
    metadata: Iterable[Metadata],
    *,
    title: str,
    limit: int,
    slug: str,
    site_url: str | None = "",
) -> Issue:
    """The cumulative feed's view: the ``limit`` newest papers of every digest date (newest
    date first, then votes); undated papers last."""
    every = build_issue(
        entries, translations, metadata, since=None, until=None, title=title, top_n=0, site_url=site_url
    )
    papers = sorted(every.papers, key=lambda p: (-(p.date.toordinal() if p.date else 0), *sort_key(p)))
    papers = papers[: max(1, limit)]
    dates = [p.date for p in papers if p.date is not None]
    since, until = (min(dates), max(dates)) if dates else (None, None)
    return Issue(
        title=title,
        date_label=date_label(since, until),
        since=since,
        until=until,
        slug=slug,
        papers=papers,
        top=[],
        groups=group_by_topic(papers),
        site_url=every.site_url,
    )
