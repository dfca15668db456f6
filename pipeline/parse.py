"""Parse stage: digest Markdown files -> ``entries.jsonl`` (one Entry per paper).

Reads every variant seen in the wild: ``***Label***:`` and ``**Label**:`` bullets,
unlabelled bullets, continuation lines, authors as a Python list or a comma list,
repeated date headers, CRLF, a BOM, CP949/EUC-KR, headings without a link.  A bad
entry or file gets one message naming file and line; every good entry is kept.
"""

from __future__ import annotations

import ast
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date as Date
from pathlib import Path

from .errors import InputError
from .records import Entry, ParseIssue, Provenance, Section
from .settings import Settings
from .store.jsonl import content_hash, write_jsonl_atomic
from .store.layout import OutDir
from .text.urls import arxiv_from_url, find_urls

log = logging.getLogger(__name__)

DIGEST_SUFFIXES = {".txt", ".md", ".markdown"}
# one day's digest is ~20-100 KB; a file this big is no digest (and would be read whole)
MAX_FILE_BYTES = 20 * 1024 * 1024

_DATE_HEADER = re.compile(r"^##(?!#)\s*(.*)$")
_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_HEADING = re.compile(r"^###(?!#)\s*(.*?)\s*$")
_LINKED_TITLE = re.compile(r"^\[(?P<title>.*)\]\((?P<url>[^()\s]*(?:\([^()\s]*\)[^()\s]*)*)\)\s*$")
_IMAGE = re.compile(r"^!\[[^\]]*\]\([^)]*\)\s*$")
_VOTE = re.compile(r"^Votes?\s*:\s*(.*)$", re.IGNORECASE)
_AUTHORS = re.compile(r"^Authors?\s*:\s*(.*)$", re.IGNORECASE)
_BULLET = re.compile(r"^\s{0,3}[-*+]\s+(.*)$")
_LABEL = re.compile(r"^\*{2,3}\s*(?P<label>[^*]+?)\s*:?\s*\*{2,3}\s*:?\s*(?P<rest>.*)$")


@dataclass
class ParseReport:
    entries: list[Entry] = field(default_factory=list)
    issues: list[ParseIssue] = field(default_factory=list)
    files: int = 0
    files_skipped: int = 0
    entries_skipped: int = 0
    duplicates_merged: int = 0
    out_path: Path | None = None

    @property
    def skipped_anything(self) -> bool:
        return self.files_skipped > 0 or self.entries_skipped > 0

    @property
    def exit_code(self) -> int:
        if not self.entries and (self.files_skipped or self.files == 0):
            return InputError.exit_code
        return InputError.exit_code if self.skipped_anything else 0

    def summary(self) -> str:
        where = f" -> {self.out_path}" if self.out_path else ""
        parts = [f"parsed {len(self.entries)} entries from {self.files} files{where}"]
        if self.duplicates_merged:
            parts.append(f"{self.duplicates_merged} duplicates merged")
        if self.entries_skipped or self.files_skipped:
            parts.append(f"skipped {self.entries_skipped} entries and {self.files_skipped} files")
        warnings = sum(1 for i in self.issues if i.severity == "warning")
        if warnings:
            parts.append(f"{warnings} warnings")
        return "; ".join(parts)


def find_digest_files(paths: Iterable[Path]) -> tuple[list[Path], list[ParseIssue]]:
    files: list[Path] = []
    issues: list[ParseIssue] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            files.extend(
                sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in DIGEST_SUFFIXES)
            )
        elif p.is_file():
            files.append(p)
        else:
            issues.append(ParseIssue(file=str(p), message="no such file or folder"))
    return files, issues


def decode_digest(data: bytes, name: str) -> tuple[str | None, list[ParseIssue]]:
    """Bytes -> text.  UTF-8 (with or without BOM), else CP949/EUC-KR.  Binary -> None."""
    issues: list[ParseIssue] = []
    if not data.strip():
        issues.append(ParseIssue(file=name, message="empty file", severity="warning"))
        return None, issues
    head = data[:8192]
    if b"\x00" in head or sum(b < 9 or 13 < b < 32 for b in head) > len(head) // 20:
        issues.append(ParseIssue(file=name, message="binary file, not a digest: skipped"))
        return None, issues
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8"), issues
    except UnicodeDecodeError as exc:
        if exc.reason == "unexpected end of data" and exc.start >= len(data) - 3:
            issues.append(
                ParseIssue(
                    file=name,
                    line=data.count(b"\n") + 1,
                    message="file ends inside a character (truncated?)",
                    severity="warning",
                )
            )
            return data[: exc.start].decode("utf-8"), issues
        utf8_error = exc
    try:
        text = data.decode("cp949")
        issues.append(ParseIssue(file=name, message="decoded as CP949/EUC-KR", severity="warning"))
        return text, issues
    except UnicodeDecodeError:
        pass
    line = data[: utf8_error.start].count(b"\n") + 1
    issues.append(
        ParseIssue(
            file=name, line=line, message="invalid UTF-8 bytes replaced with U+FFFD", severity="warning"
        )
    )
    return data.decode("utf-8", errors="replace"), issues


def parse_authors(raw: str) -> list[str]:
    raw = raw.strip()
    if not raw:
        return []
    if raw.startswith("["):
        try:
            value = ast.literal_eval(raw)
            if isinstance(value, (list, tuple)):
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


def parse_text(text: str, name: str) -> tuple[list[Entry], list[ParseIssue], int]:
    """Parse one decoded digest.  Returns (entries, issues, entries_skipped)."""
    entries: list[Entry] = []
    issues: list[ParseIssue] = []
    skipped = 0
    current_date: Date | None = None
    draft: _Draft | None = None

    def finish() -> None:
        nonlocal draft, skipped
        if draft is None:
            return
        d, draft = draft, None
        if not d.title:
            issues.append(
                ParseIssue(file=name, line=d.line, message="heading without a title: entry skipped")
            )
            skipped += 1
            return
        arxiv_id, version = arxiv_from_url(d.url)
        if d.url is None:
            issues.append(
                ParseIssue(
                    file=name,
                    line=d.line,
                    severity="warning",
                    message="heading has no link; entry kept with an id derived from its title",
                )
            )
        elif arxiv_id is None:
            issues.append(
                ParseIssue(
                    file=name, line=d.line, severity="warning", message=f"link is not an arXiv URL: {d.url}"
                )
            )
        if not d.sections:
            issues.append(
                ParseIssue(
                    file=name,
                    line=d.line,
                    severity="warning",
                    message="entry has no summary bullets; kept with its title only",
                )
            )
        entry_id = arxiv_id or "title-" + content_hash(d.title.casefold(), length=12)
        links: list[str] = []
        for s in d.sections:
            for u in find_urls(s.text):
                if u not in links:
                    links.append(u)
        entries.append(
            Entry(
                id=entry_id,
                arxiv_id=arxiv_id,
                arxiv_version=version,
                url=d.url,
                title=d.title,
                date=d.date,
                votes=d.votes,
                authors=d.authors,
                sections=d.sections,
                links=links,
                source_file=name,
                source_line=d.line,
                provenance=[Provenance(file=name, line=d.line, date=d.date)],
                content_hash=content_hash(d.title, [(s.label, s.text) for s in d.sections]),
            )
        )

    outside: list[int] = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip().replace("\ufeff", "")
        stripped = line.strip()
        if not stripped:
            if draft is not None:
                draft.open_bullet = False
            continue
        m = _HEADING.match(stripped)
        if m:
            finish()
            heading = m.group(1)
            lm = _LINKED_TITLE.match(heading)
            if lm:
                draft = _Draft(
                    title=lm.group("title").strip(),
                    url=lm.group("url").strip() or None,
                    line=lineno,
                    date=current_date,
                )
            else:
                draft = _Draft(title=heading.strip(), url=None, line=lineno, date=current_date)
            continue
        m = _DATE_HEADER.match(stripped)
        if m:
            finish()
            dm = _ISO_DATE.search(m.group(1))
            if dm:
                try:
                    current_date = Date(int(dm.group(1)), int(dm.group(2)), int(dm.group(3)))
                except ValueError:
                    issues.append(
                        ParseIssue(
                            file=name,
                            line=lineno,
                            severity="warning",
                            message=f"invalid date in header: {dm.group(0)}",
                        )
                    )
            continue
        if draft is None:
            if not stripped.startswith("#"):
                outside.append(lineno)  # one message per file, not one per line
            continue
        if _IMAGE.match(stripped):
            continue
        m = _VOTE.match(stripped)
        if m and not draft.sections:
            try:
                draft.votes = int(m.group(1).strip().replace(",", ""))
            except ValueError:
                issues.append(
                    ParseIssue(
                        file=name,
                        line=lineno,
                        severity="warning",
                        message=f"votes is not a number: {m.group(1).strip()!r}",
                    )
                )
            continue
        m = _AUTHORS.match(stripped)
        if m and not draft.sections:
            draft.authors = parse_authors(m.group(1))
            continue
        m = _BULLET.match(line)
        if m:
            body = m.group(1).strip()
            label = None
            lm = _LABEL.match(body)
            if lm:
                label, body = lm.group("label").strip(), lm.group("rest").strip()
            draft.sections.append(Section(label=label, text=body, line=lineno))
            draft.open_bullet = True
            continue
        if draft.open_bullet and draft.sections:
            prev = draft.sections[-1]
            draft.sections[-1] = prev.model_copy(update={"text": (prev.text + " " + stripped).strip()})
            continue
        # a paragraph outside bullets: an unlabelled section of its own
        draft.sections.append(Section(label=None, text=stripped, line=lineno))
        draft.open_bullet = True
    finish()
    if outside:
        more = f" ({len(outside)} lines)" if len(outside) > 1 else ""
        issues.append(
            ParseIssue(
                file=name,
                line=outside[0],
                severity="warning",
                message=f"text outside any entry ignored{more}",
            )
        )
    # drop sections left empty (a label with no text)
    for i, e in enumerate(entries):
        if any(not s.text for s in e.sections):
            entries[i] = e.model_copy(update={"sections": [s for s in e.sections if s.text]})
    return entries, issues, skipped


def parse_files(paths: Iterable[Path], *, max_bytes: int = MAX_FILE_BYTES) -> ParseReport:
    """Parse digest files (or folders of them); merge papers seen in several digests."""
    report = ParseReport()
    files, issues = find_digest_files(paths)
    report.issues.extend(issues)
    report.files_skipped += len(issues)
    by_id: dict[str, Entry] = {}
    for path in files:
        report.files += 1
        name = str(path)
        try:
            size = path.stat().st_size
            if size > max_bytes:
                report.issues.append(
                    ParseIssue(
                        file=name,
                        message=f"file is {size / 2**20:.1f} MB, larger than the {max_bytes / 2**20:.0f} MB "
                        "limit for one digest: skipped",
                    )
                )
                report.files_skipped += 1
                continue
            data = path.read_bytes()
        except OSError as exc:
            report.issues.append(ParseIssue(file=name, message=f"cannot read: {exc.strerror}"))
            report.files_skipped += 1
            continue
        text, dec_issues = decode_digest(data, name)
        report.issues.extend(dec_issues)
        if text is None:
            if any(i.severity == "error" for i in dec_issues):
                report.files_skipped += 1
            continue
        entries, entry_issues, skipped = parse_text(text, name)
        report.issues.extend(entry_issues)
        report.entries_skipped += skipped
        if not entries:
            report.issues.append(
                ParseIssue(file=name, message="no entries found (is this a digest?)", severity="warning")
            )
        for e in entries:
            prev = by_id.get(e.id)
            if prev is None:
                by_id[e.id] = e
                continue
            report.duplicates_merged += 1
            merged_links = prev.links + [u for u in e.links if u not in prev.links]
            update: dict[str, object] = {"provenance": prev.provenance + e.provenance, "links": merged_links}
            if not prev.sections and e.sections:
                update.update(sections=e.sections, content_hash=e.content_hash)
            if e.votes is not None and (prev.votes is None or e.votes > prev.votes):
                update["votes"] = e.votes
            by_id[e.id] = prev.model_copy(update=update)
    report.entries = list(by_id.values())
    return report


def parse_stage(settings: Settings, paths: list[Path]) -> ParseReport:
    """``digest parse``: parse ``paths`` and write ``<out>/entries.jsonl`` atomically."""
    report = parse_files(paths)
    for issue in report.issues:
        (log.error if issue.severity == "error" else log.warning)("%s", issue)
    log.info("%s", report.summary())
    out_dir = OutDir(settings.out_dir)
    if report.entries:
        write_jsonl_atomic(out_dir.entries_path, report.entries)
        report.out_path = out_dir.entries_path
    write_jsonl_atomic(out_dir.parse_issues_path, report.issues)
    return report


def load_entries(settings: Settings) -> list[Entry]:
    """Entries of the last parse; a clear error when parse has not run."""
    return OutDir(settings.out_dir).load_entries()
