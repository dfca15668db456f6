"""Parse stage: digest files -> ``entries.jsonl`` (one Entry per paper).

Each file is decoded (``decode.py``) and read by the registered reader that knows its
layout (``readers/``).  A bad entry or file gets one message naming file and line; every
good entry is kept.  A paper seen in several digests is one entry with every provenance.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ...errors import InputError
from ...records import Entry, ParseIssue
from ...settings import Settings
from ...store.jsonl import write_jsonl_atomic
from ...store.layout import OutDir
from .decode import decode_digest
from .readers import pick_reader

log = logging.getLogger(__name__)

DIGEST_SUFFIXES = {".txt", ".md", ".markdown"}
# one day's digest is ~20-100 KB; a file this big is no digest (and would be read whole)
MAX_FILE_BYTES = 20 * 1024 * 1024


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


def parse_text(text: str, name: str) -> tuple[list[Entry], list[ParseIssue], int]:
    """Read one decoded digest with the reader of its layout: (entries, issues, entries skipped)."""
    result = pick_reader(text).read(text, name)
    return result.entries, result.issues, result.skipped


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
