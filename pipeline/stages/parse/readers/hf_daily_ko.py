"""The Hugging Face "Daily Papers" digest in Korean, in every variant seen in the wild.

``## 2024-10-21`` date headers (repeated or not), ``### [Title](arXiv URL)`` headings (or
a title without a link), ``Vote:`` / ``Authors:`` lines (a Python list or a comma list),
``***Label***:`` and ``**Label**:`` bullets, unlabelled bullets, bullets continued on the
next line, paragraphs outside bullets, images.  A bad entry gets one issue naming file
and line and is skipped; everything else is kept.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from datetime import date as Date

from ....records import Entry, ParseIssue, Provenance, Section
from ....store.jsonl import content_hash
from ....text.urls import arxiv_from_url, find_urls
from .base import ReadResult

_DATE_HEADER = re.compile(r"^##(?!#)\s*(.*)$")
_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_HEADING = re.compile(r"^###(?!#)\s*(.*?)\s*$")
_LINKED_TITLE = re.compile(r"^\[(?P<title>.*)\]\((?P<url>[^()\s]*(?:\([^()\s]*\)[^()\s]*)*)\)\s*$")
_IMAGE = re.compile(r"^!\[[^\]]*\]\([^)]*\)\s*$")
_VOTE = re.compile(r"^Votes?\s*:\s*(.*)$", re.IGNORECASE)
_AUTHORS = re.compile(r"^Authors?\s*:\s*(.*)$", re.IGNORECASE)
_BULLET = re.compile(r"^\s{0,3}[-*+]\s+(.*)$")
_LINES = re.compile(r"\r\n|[\r\n]")
MAX_VOTES = 10**7  # votes must be 0 <= v < MAX_VOTES; anything else is no vote count
_LABEL = re.compile(r"^\*{2,3}\s*(?P<label>[^*]+?)\s*:?\s*\*{2,3}\s*:?\s*(?P<rest>.*)$")


class HfDailyKoReader:
    name = "hf-daily-ko"

    def can_read(self, text: str) -> float:
        # the layout's headings; any other text is read too (it reports what it ignores)
        return 1.0 if re.search(r"^###(?!#)", text, re.M) else 0.1

    def read(self, text: str, file: str) -> ReadResult:
        return _Reading(file).run(text)


def parse_authors(raw: str) -> list[str]:
    raw = raw.strip()
    if not raw:
        return []
    if raw.startswith("["):
        try:
            value = ast.literal_eval(raw)
            if isinstance(value, list | tuple):
                return [str(a).strip() for a in value if str(a).strip()]
        except (ValueError, SyntaxError):
            quoted = re.findall(r"""'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)\"""", raw)
            names = [a or b for a, b in quoted]
            if names:
                return [n.strip() for n in names if n.strip()]
            raw = raw.strip("[]")
    return [a.strip().strip("'\"") for a in re.split(r"[,;]", raw) if a.strip().strip("'\"")]


@dataclass
class _Draft:
    title: str
    url: str | None
    line: int
    date: Date | None
    votes: int | None = None
    authors: list[str] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)
    open_bullet: bool = False


class _Reading:
    """The state of reading one file, line by line."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.out = ReadResult()
        self.date: Date | None = None
        self.draft: _Draft | None = None
        self.outside: list[int] = []  # lines of text outside any entry

    def run(self, text: str) -> ReadResult:
        # line numbers as an editor shows them: only line breaks split (``str.splitlines``
        # would also split at form feeds and other separators)
        for lineno, raw in enumerate(_LINES.split(text), 1):
            self._line(lineno, raw.rstrip().replace("\ufeff", ""))
        self._finish_entry()
        if self.outside:
            more = f" ({len(self.outside)} lines)" if len(self.outside) > 1 else ""
            self._warn(self.outside[0], f"text outside any entry ignored{more}")
        # drop sections left empty (a label with no text)
        for i, e in enumerate(self.out.entries):
            if any(not s.text for s in e.sections):
                self.out.entries[i] = e.model_copy(update={"sections": [s for s in e.sections if s.text]})
        return self.out

    def _warn(self, line: int | None, message: str) -> None:
        self.out.issues.append(ParseIssue(file=self.file, line=line, severity="warning", message=message))

    # -- one line ---------------------------------------------------------------------------

    def _line(self, lineno: int, line: str) -> None:
        stripped = line.strip()
        if not stripped:
            if self.draft is not None:
                self.draft.open_bullet = False
            return
        if m := _HEADING.match(stripped):
            self._heading(lineno, m.group(1))
        elif m := _DATE_HEADER.match(stripped):
            self._date_header(lineno, m.group(1))
        elif self.draft is None:
            if not stripped.startswith("#"):
                self.outside.append(lineno)  # one message per file, not one per line
        elif not _IMAGE.match(stripped):
            self._body(self.draft, lineno, line, stripped)

    def _heading(self, lineno: int, heading: str) -> None:
        self._finish_entry()
        if lm := _LINKED_TITLE.match(heading):
            title, url = lm.group("title").strip(), lm.group("url").strip() or None
        else:
            title, url = heading.strip(), None
        self.draft = _Draft(title=title, url=url, line=lineno, date=self.date)

    def _date_header(self, lineno: int, header: str) -> None:
        self._finish_entry()
        if dm := _ISO_DATE.search(header):
            try:
                self.date = Date(int(dm.group(1)), int(dm.group(2)), int(dm.group(3)))
            except ValueError:
                self._warn(lineno, f"invalid date in header: {dm.group(0)}")

    def _body(self, draft: _Draft, lineno: int, line: str, stripped: str) -> None:
        """A line inside an entry: votes, authors, a bullet, a continuation, a paragraph."""
        if (m := _VOTE.match(stripped)) and not draft.sections:
            raw = m.group(1).strip()
            try:
                votes = int(raw.replace(",", ""))
            except ValueError:
                self._warn(lineno, f"votes is not a number: {raw[:40]!r}")
                return
            if 0 <= votes < MAX_VOTES:
                draft.votes = votes
            else:
                self._warn(
                    lineno, f"votes out of range (0 <= votes < {MAX_VOTES:,}): {raw[:40]!r}; set to none"
                )
        elif (m := _AUTHORS.match(stripped)) and not draft.sections:
            draft.authors = parse_authors(m.group(1))
        elif (_VOTE.match(stripped) or _AUTHORS.match(stripped)) and not line.startswith(
            (" ", "\t", "-", "*")
        ):
            # an entry's own lines after its summary: the heading of the next entry is missing
            self._warn(
                lineno,
                f"{stripped.split(':', 1)[0]!r} line inside the summary of the entry at line {draft.line} "
                "(a heading missing?): kept as text of that entry",
            )
            draft.sections.append(Section(label=None, text=stripped, line=lineno))
            draft.open_bullet = False
        elif m := _BULLET.match(line):
            body, label = m.group(1).strip(), None
            if lm := _LABEL.match(body):
                label, body = lm.group("label").strip(), lm.group("rest").strip()
            draft.sections.append(Section(label=label, text=body, line=lineno))
            draft.open_bullet = True
        elif draft.open_bullet and draft.sections:
            prev = draft.sections[-1]
            draft.sections[-1] = prev.model_copy(update={"text": (prev.text + " " + stripped).strip()})
        else:  # a paragraph outside bullets: an unlabelled section of its own
            draft.sections.append(Section(label=None, text=stripped, line=lineno))
            draft.open_bullet = True

    # -- one entry --------------------------------------------------------------------------

    def _finish_entry(self) -> None:
        d, self.draft = self.draft, None
        if d is None:
            return
        if not d.title:
            self.out.issues.append(
                ParseIssue(file=self.file, line=d.line, message="heading without a title: entry skipped")
            )
            self.out.skipped += 1
            return
        arxiv_id, version = arxiv_from_url(d.url)
        if d.url is None:
            self._warn(d.line, "heading has no link; entry kept with an id derived from its title")
        elif arxiv_id is None:
            self._warn(d.line, f"link is not an arXiv URL: {d.url}")
        if not d.sections:
            self._warn(d.line, "entry has no summary bullets; kept with its title only")
        links: list[str] = []
        for s in d.sections:
            links.extend(u for u in find_urls(s.text) if u not in links)
        self.out.entries.append(
            Entry(
                id=arxiv_id or "title-" + content_hash(d.title.casefold(), length=12),
                arxiv_id=arxiv_id,
                arxiv_version=version,
                url=d.url,
                title=d.title,
                date=d.date,
                votes=d.votes,
                authors=d.authors,
                sections=d.sections,
                links=links,
                source_file=self.file,
                source_line=d.line,
                provenance=[Provenance(file=self.file, line=d.line, date=d.date)],
                content_hash=content_hash(d.title, [(s.label, s.text) for s in d.sections]),
            )
        )
