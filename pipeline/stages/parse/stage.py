"""Parse stage: digest files -> ``entries.jsonl`` (one Entry per paper).

Each file is decoded (``decode.py``) and read by the registered reader that knows its
layout (``readers/``).  A bad entry or file gets one message naming file and line; every
good entry is kept.  A paper seen in several digests is one entry with every provenance.
"""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ...errors import InputError
from ...records import Entry, ParseIssue
from ...settings import Settings
from ...store.jsonl import write_jsonl_atomic, write_text_atomic
from ...store.layout import OutDir
from ...store.lock import writes_output
from .decode import decode_digest
from .readers import pick_reader

log = logging.getLogger(__name__)

DIGEST_SUFFIXES = (".md", ".txt", ".markdown")
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
    issues_path: Path | None = None
    strict: bool = False  # --strict: any problem (error or warning) is exit 3

    @property
    def skipped_anything(self) -> bool:
        return self.files_skipped > 0 or self.entries_skipped > 0

    @property
    def errors(self) -> int:
        return sum(1 for i in self.issues if i.severity == "error")

    @property
    def warnings(self) -> int:
        return sum(1 for i in self.issues if i.severity == "warning")

    @property
    def problems(self) -> int:
        """Errors and warnings (notes such as the encoding a file was read in are none)."""
        return self.errors + self.warnings

    @property
    def exit_code(self) -> int:
        if not self.entries and (self.files_skipped or self.files == 0):
            return InputError.exit_code
        if self.strict and self.problems:
            return InputError.exit_code
        return InputError.exit_code if self.skipped_anything else 0

    def summary(self) -> str:
        where = f" -> {self.out_path}" if self.out_path else ""
        parts = [f"parsed {len(self.entries)} entries from {self.files} files{where}"]
        if self.duplicates_merged:
            parts.append(f"{self.duplicates_merged} duplicates merged")
        if self.entries_skipped or self.files_skipped:
            parts.append(f"skipped {self.entries_skipped} entries and {self.files_skipped} files")
        if self.problems:
            kinds = [
                f"{n} {w}{'s' if n != 1 else ''}"
                for n, w in ((self.errors, "error"), (self.warnings, "warning"))
                if n
            ]
            listed = f": see {self.issues_path}" if self.issues_path else ""
            strict = " (--strict: exit 3)" if self.strict else ""
            parts.append(
                f"{self.problems} problem{'s' if self.problems != 1 else ''} ({', '.join(kinds)}){listed}{strict}"
            )
        return "; ".join(parts)


def find_digest_files(paths: Iterable[Path]) -> tuple[list[Path], list[ParseIssue]]:
    """The digest files of ``paths`` (files as given; folders walked, sub-folders and
    symbolic links included).  What cannot be walked is named: an unreadable folder, a
    symbolic-link loop, a broken link; a folder without a digest file is an error."""
    files: list[Path] = []
    issues: list[ParseIssue] = []
    for p in paths:
        p = Path(p)
        try:
            p.stat()
        except OSError as exc:
            issues.append(ParseIssue(file=str(p), message=_path_problem(p, exc)))
            continue
        if p.is_dir():
            found = _walk(p, issues)
            if not found:
                kinds = ", ".join(f"*{s}" for s in DIGEST_SUFFIXES)
                issues.append(ParseIssue(file=str(p), message=f"no digest files ({kinds}) in {p}"))
            files.extend(found)
        else:
            files.append(p)
    return files, issues


def _path_problem(p: Path, exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "symbolic link loop: skipped"
    if p.is_symlink():
        return f"broken symbolic link (to {os.readlink(p)}): skipped"
    if exc.errno == errno.ENOENT:
        return "no such file or folder"
    return f"cannot read: {exc.strerror}"


def _walk(folder: Path, issues: list[ParseIssue]) -> list[Path]:
    """Digest files under ``folder``, sorted, following symbolic links once (a folder reached
    again through a link is a loop)."""
    out: list[Path] = []
    seen: set[tuple[int, int]] = set()

    def visit(d: Path) -> None:
        st = d.stat()
        if (st.st_dev, st.st_ino) in seen:
            issues.append(
                ParseIssue(
                    file=str(d),
                    message="symbolic link loop: folder already read, skipped",
                    severity="warning",
                )
            )
            return
        seen.add((st.st_dev, st.st_ino))
        try:
            with os.scandir(d) as it:
                children = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            issues.append(
                ParseIssue(
                    file=str(d), message=f"cannot read folder: {exc.strerror}: skipped", severity="warning"
                )
            )
            return
        for child in children:
            path = Path(child.path)
            try:
                is_dir = child.is_dir()
                is_file = not is_dir and child.is_file()
                if child.is_symlink():
                    path.stat()  # a broken link or a loop raises here
            except OSError as exc:
                if _digest_name(path) or exc.errno == errno.ELOOP:
                    issues.append(
                        ParseIssue(file=str(path), message=_path_problem(path, exc), severity="warning")
                    )
                continue
            if is_dir:
                visit(path)
            elif is_file and _digest_name(path):
                out.append(path)

    visit(folder)
    return out


def _digest_name(path: Path) -> bool:
    return path.suffix.lower() in DIGEST_SUFFIXES


def parse_text(text: str, name: str) -> tuple[list[Entry], list[ParseIssue], int]:
    """Read one decoded digest with the reader of its layout: (entries, issues, entries skipped)."""
    result = pick_reader(text).read(text, name)
    return result.entries, result.issues, result.skipped


def parse_files(paths: Iterable[Path], *, max_bytes: int = MAX_FILE_BYTES) -> ParseReport:
    """Parse digest files (or folders of them); merge papers seen in several digests."""
    report = ParseReport()
    files, issues = find_digest_files(paths)
    report.issues.extend(issues)
    report.files_skipped += sum(1 for i in issues if i.severity == "error")
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


@writes_output
def parse_stage(settings: Settings, paths: list[Path], *, strict: bool = False) -> ParseReport:
    """``digest parse``: parse ``paths`` and write ``<out>/entries.jsonl`` atomically (only
    when it changed, so later stages' outputs stay current) and ``parse_issues.jsonl``.
    ``strict``: any problem makes the exit status 3 (for CI)."""
    report = parse_files(paths)
    report.strict = strict
    for issue in report.issues:
        level = {"error": logging.ERROR, "warning": logging.WARNING}.get(issue.severity, logging.INFO)
        log.log(level, "%s", issue)
    out_dir = OutDir(settings.out_dir)
    if report.entries:
        _write_if_changed(out_dir.entries_path, report.entries)
        report.out_path = out_dir.entries_path
    write_jsonl_atomic(out_dir.parse_issues_path, report.issues)
    report.issues_path = out_dir.parse_issues_path
    log.info("%s", report.summary())
    return report


def _write_if_changed(path: Path, records: list[Entry]) -> None:
    text = "".join(r.model_dump_json() + "\n" for r in records)
    try:
        if path.read_text(encoding="utf-8") == text:
            return
    except (OSError, UnicodeDecodeError):
        pass
    write_text_atomic(path, text)
