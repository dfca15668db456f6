"""Do the records of an output folder agree with each other?  (``digest check``, and the
test suite after every test that writes a folder.)

Each artifact is checked on its own (every line a valid record, no duplicate ids) and
against each artifact it is derived from.  A disagreement is a problem when the artifact
was written after its input (translations written after the entries must describe exactly
those entries); when it was written before (a later ``digest parse`` on changed digests),
the artifact is *stale* until its stage runs again: a note, not a problem.

- translations <-> entries: one per section of every entry, the same source hash and label;
- metadata <-> entries: one per entry, the same arXiv id, date and votes;
- index documents (``index.sqlite``) <-> entries: one per entry, the same title, Korean text, date and votes;
- index documents <-> metadata: the same topic;
- no temp file of an interrupted write is left behind.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from ..records import Entry, IndexDoc, Metadata, ParseIssue, SectionTranslation
from .jsonl import content_hash
from .layout import OutDir
from .lock import TEMP_PREFIX, TEMP_SUFFIX
from .reading import iter_text_lines

M = TypeVar("M", bound=BaseModel)


@dataclass
class ConsistencyReport:
    out_dir: Path
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # stale artifacts: a later stage is due
    checked: list[str] = field(default_factory=list)  # the pairs compared

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 3

    def summary(self) -> str:
        head = (
            f"{self.out_dir}: consistent ({len(self.checked)} checks)"
            if self.ok
            else f"{self.out_dir}: {len(self.problems)} problems"
        )
        return "\n".join(
            [head, *(f"  problem: {p}" for p in self.problems), *(f"  note: {n}" for n in self.notes)]
        )


def _load(path: Path, model: type[M], problems: list[str]) -> list[M] | None:
    """Every line of ``path`` as a record (None when the file is missing); bad lines are problems."""
    if not path.exists():
        return None
    out: list[M] = []
    for lineno, line in iter_text_lines(path):
        if line is None:
            problems.append(f"{path.name}:{lineno}: not UTF-8")
            continue
        if not line.strip():
            continue
        try:
            out.append(model.model_validate(json.loads(line)))
        except (ValueError, RecursionError) as exc:  # not JSON, nested too deep, not a record
            problems.append(f"{path.name}:{lineno}: not a valid {model.__name__} ({type(exc).__name__})")
    return out


def _load_docs(out: OutDir, problems: list[str]) -> list[IndexDoc] | None:
    """The index documents (None when there is no index); an unreadable store is a problem."""
    if not out.index_db_path.exists():
        return None
    try:
        return out.load_index_docs()
    except Exception as exc:  # noqa: BLE001 - a damaged store of any kind is reported, not raised
        problems.append(f"{out.index_db_path.name}: unreadable ({type(exc).__name__})")
        return None


def _duplicates(path: Path, keys: list[Any], problems: list[str]) -> None:
    dup = sorted(str(k) for k, n in Counter(keys).items() if n > 1)
    if dup:
        problems.append(f"{path.name}: duplicated {', '.join(dup[:5])}" + (" ..." if len(dup) > 5 else ""))


def check_folder(out_dir: Path, *, written: set[Path] | None = None) -> ConsistencyReport:
    """Check ``out_dir`` (see the module doc).  Reads only; holds no lock.

    ``written``: check only what these files (resolved paths) are, and say (the test suite
    passes the artifacts a test's commands wrote, so folders a test assembles from fixture
    files are not held to the product's rules)."""
    out = OutDir(out_dir)
    report = ConsistencyReport(Path(out_dir))
    p = report.problems

    def fresh(path: Path) -> bool:
        return written is None or path.resolve() in written

    def load(path: Path, model: type[M]) -> list[M] | None:
        return _load(path, model, p if fresh(path) else [])

    entries = load(out.entries_path, Entry)
    load(out.parse_issues_path, ParseIssue)
    translations = load(out.translations_path, SectionTranslation)
    metadata = load(out.metadata_path, Metadata)
    db = out.index_db_path
    docs = _load_docs(out, p if fresh(db) else [])
    if entries is not None and fresh(out.entries_path):
        _duplicates(out.entries_path, [e.id for e in entries], p)
    if translations is not None and fresh(out.translations_path):
        _duplicates(out.translations_path, [(t.entry_id, t.index) for t in translations], p)
    if metadata is not None and fresh(out.metadata_path):
        _duplicates(out.metadata_path, [m.entry_id for m in metadata], p)
    if docs is not None and fresh(db):
        _duplicates(db, [c for d in docs for c in d.chunks], p)

    def pair(down: Path, up: Path, check: Callable[[list[str]], None], stage: str) -> None:
        if not (down.exists() and up.exists() and fresh(down)):
            return
        found: list[str] = []
        check(found)
        report.checked.append(f"{down.name} <-> {up.name}")
        if down.stat().st_mtime_ns >= up.stat().st_mtime_ns:
            p.extend(found)  # written after its input: it must agree with it
        elif found:  # written before its input changed: due for a re-run, not damaged
            report.notes.append(f"{down.name} is older than {up.name}: stale until `digest {stage}` runs")

    if entries is not None and translations is not None:
        pair(
            out.translations_path,
            out.entries_path,
            lambda f: _translations(entries, translations, f),
            "translate",
        )
    if entries is not None and metadata is not None:
        pair(out.metadata_path, out.entries_path, lambda f: _metadata(entries, metadata, f), "enrich")
    if entries is not None and docs is not None:
        pair(db, out.entries_path, lambda f: _docs(entries, docs, db.name, f), "index")
    if metadata is not None and docs is not None:
        pair(db, out.metadata_path, lambda f: _docs_topics(metadata, docs, db.name, f), "index")
    for root, _dirs, files in os.walk(out.root):
        for name in files:
            if name.startswith(TEMP_PREFIX) and name.endswith(TEMP_SUFFIX):
                p.append(f"temp file of an interrupted write left behind: {Path(root, name)}")
    return report


def _translations(entries: list[Entry], translations: list[SectionTranslation], p: list[str]) -> None:
    want = {(e.id, i): s for e in entries for i, s in enumerate(e.sections)}
    have = {(t.entry_id, t.index): t for t in translations}
    missing, extra = sorted(set(want) - set(have)), sorted(set(have) - set(want))
    if missing:
        p.append(
            f"translations.jsonl: no translation of {len(missing)} sections, e.g. {missing[0][0]}#{missing[0][1]}"
        )
    if extra:
        p.append(
            f"translations.jsonl: {len(extra)} translations of no current section, e.g. {extra[0][0]}#{extra[0][1]}"
        )
    for key in sorted(set(want) & set(have)):
        section, t = want[key], have[key]
        if t.source_hash != content_hash(section.text):
            p.append(
                f"translations.jsonl: {key[0]}#{key[1]} translates other Korean text (source hash differs)"
            )
        elif t.label != section.label:
            p.append(
                f"translations.jsonl: {key[0]}#{key[1]} has label {t.label!r}, the entry {section.label!r}"
            )


def _metadata(entries: list[Entry], metadata: list[Metadata], p: list[str]) -> None:
    by_id = {m.entry_id: m for m in metadata}
    ids = [e.id for e in entries]
    if set(by_id) != set(ids):
        p.append(
            f"metadata.jsonl: {len(set(ids) - set(by_id))} entries without metadata, "
            f"{len(set(by_id) - set(ids))} records of no entry"
        )
    for e in entries:
        m = by_id.get(e.id)
        if m is not None and (m.arxiv_id, m.date, m.votes) != (e.arxiv_id, e.date, e.votes):
            p.append(f"metadata.jsonl: {e.id}: arXiv id, date or votes differ from the entry's")


def _docs(entries: list[Entry], docs: list[IndexDoc], name: str, p: list[str]) -> None:
    by_id = {d.entry_id: d for d in docs}
    ids = [e.id for e in entries]
    if set(by_id) != set(ids):
        p.append(
            f"{name}: {len(set(ids) - set(by_id))} entries not indexed, "
            f"{len(set(by_id) - set(ids))} documents of no entry"
        )
    for e in {e.id: e for e in entries}.values():  # an id given twice: the index takes the later
        d = by_id.get(e.id)
        if d is None:
            continue
        korean = "\n".join([e.title, *(s.text for s in e.sections)])
        if (d.title, d.korean, d.sections_total) != (e.title, korean, len(e.sections)):
            p.append(f"{name}: {e.id}: title or Korean text differs from the entry's")
        if (d.arxiv_id, d.date, d.votes) != (e.arxiv_id, e.date, e.votes):
            p.append(f"{name}: {e.id}: arXiv id, date or votes differ from the entry's")
        if d.sections_translated > d.sections_total:
            p.append(f"{name}: {e.id}: more sections translated than there are")


def _docs_topics(metadata: list[Metadata], docs: list[IndexDoc], name: str, p: list[str]) -> None:
    topics = {m.entry_id: m.topic for m in metadata}
    for d in docs:
        if d.entry_id in topics and topics[d.entry_id] != d.topic:
            p.append(f"{name}: {d.entry_id}: topic {d.topic!r}, metadata {topics[d.entry_id]!r}")
