"""Retrieval evaluation: recall@1/5/10 and MRR over a question file, overall, per kind and
per language, with per-query latency."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..settings import Settings
from ..stages.index.stage import index_stage
from ..store.jsonl import iter_jsonl_dicts
from ..store.layout import OutDir
from ..text.memory import load_memory
from .base import retriever_names
from .fusion import query_language
from .searcher import Searcher

log = logging.getLogger(__name__)

CUTOFFS = (1, 5, 10)


@dataclass
class Question:
    question: str
    arxiv_id: str
    kind: str = "all"
    lang: str = "en"


@dataclass
class Metrics:
    n: int = 0
    recall: dict[int, float] = field(default_factory=dict)
    mrr: float = 0.0

    @classmethod
    def of(cls, ranks: Sequence[int | None]) -> Metrics:
        n = len(ranks)
        if not n:
            return cls()
        recall = {c: sum(1 for r in ranks if r is not None and r <= c) / n for c in CUTOFFS}
        mrr = sum(1.0 / r for r in ranks if r is not None) / n
        return cls(n, recall, mrr)

    def as_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            **{f"recall@{c}": round(v, 4) for c, v in self.recall.items()},
            "mrr": round(self.mrr, 4),
        }


@dataclass
class QueryResult:
    question: Question
    rank: int | None  # 1-based rank of the expected entry; None when not in the top k
    top: list[str]
    seconds: float


@dataclass
class EvalReport:
    k: int
    results: list[QueryResult] = field(default_factory=list)
    retrievers: tuple[str, ...] = field(default_factory=retriever_names)
    notes: list[str] = field(default_factory=list)  # e.g. what the translation memory changed

    def _group(self, key: str) -> dict[str, Metrics]:
        groups: dict[str, list[int | None]] = {}
        for r in self.results:
            groups.setdefault(getattr(r.question, key), []).append(r.rank)
        return {g: Metrics.of(ranks) for g, ranks in sorted(groups.items())}

    @property
    def overall(self) -> Metrics:
        return Metrics.of([r.rank for r in self.results])

    @property
    def by_kind(self) -> dict[str, Metrics]:
        return self._group("kind")

    @property
    def by_lang(self) -> dict[str, Metrics]:
        return self._group("lang")

    def latency_ms(self) -> dict[str, float]:
        times = sorted(r.seconds * 1000 for r in self.results)
        return {"p50": round(percentile(times, 50), 2), "p95": round(percentile(times, 95), 2)}

    def misses(self) -> list[QueryResult]:
        return [r for r in self.results if r.rank != 1]

    def as_dict(self) -> dict[str, Any]:
        return {
            "k": self.k,
            "retrievers": list(self.retrievers),
            "overall": self.overall.as_dict(),
            "by_kind": {g: m.as_dict() for g, m in self.by_kind.items()},
            "by_lang": {g: m.as_dict() for g, m in self.by_lang.items()},
            "latency_ms": self.latency_ms(),
            "notes": self.notes,
            "misses": [
                {
                    "question": r.question.question,
                    "expected": r.question.arxiv_id,
                    "rank": r.rank,
                    "top": r.top[:3],
                }
                for r in self.misses()
            ],
        }

    def table(self) -> str:
        """A Markdown table: one row per group."""
        head = "| group | n | recall@1 | recall@5 | recall@10 | MRR |\n|---|---:|---:|---:|---:|---:|"
        rows = [("overall", self.overall)]
        rows += [(f"kind={g}", m) for g, m in self.by_kind.items()]
        rows += [(f"lang={g}", m) for g, m in self.by_lang.items()]
        lines = [head]
        for name, m in rows:
            r = m.recall
            lines.append(
                f"| {name} | {m.n} | {r.get(1, 0):.3f} | {r.get(5, 0):.3f} | {r.get(10, 0):.3f} | {m.mrr:.3f} |"
            )
        lat = self.latency_ms()
        lines.append(f"\nlatency per query: p50 {lat['p50']:.1f} ms, p95 {lat['p95']:.1f} ms")
        lines.extend(self.notes)
        return "\n".join(lines)

    def summary(self) -> str:
        return self.table()


def percentile(sorted_values: Sequence[float], pct: float) -> float:
    """Nearest-rank-interpolated percentile of already sorted values."""
    if not sorted_values:
        return 0.0
    pos = (len(sorted_values) - 1) * pct / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def load_questions(path: Path) -> list[Question]:
    path = Path(path)
    if not path.is_file():
        raise InputError(f"question file not found: {path}")
    out: list[Question] = []
    for i, d in enumerate(iter_jsonl_dicts(path), 1):
        q, aid = d.get("question"), d.get("arxiv_id")
        if not isinstance(q, str) or not q.strip() or not isinstance(aid, str) or not aid.strip():
            raise InputError(f"{path}: record {i} needs a non-empty 'question' and 'arxiv_id'")
        lang = d.get("lang") or query_language(q)
        out.append(Question(q.strip(), aid.strip(), str(d.get("kind") or "all"), str(lang)))
    if not out:
        raise InputError(f"{path}: no questions")
    return out


def evaluate_retrieval(
    settings: Settings,
    questions_path: Path,
    *,
    k: int = 10,
    searcher: Searcher | None = None,
    retrievers: tuple[str, ...] | None = None,
    reindex: bool = False,
) -> EvalReport:
    """Search every question; rank of the expected arXiv id in the top ``k``.

    ``reindex``: bring the index up to date first (``digest eval --memory`` does, so
    sections the translation memory covers are indexed in English)."""
    questions = load_questions(questions_path)
    notes = []
    if reindex:
        notes.append(memory_coverage(settings))
        log.info("%s", notes[-1])
        index_stage(settings)
    retrievers = retrievers or retriever_names()
    searcher = searcher or Searcher(settings, retrievers=retrievers)
    searcher.warm_up()
    report = EvalReport(k=k, retrievers=retrievers, notes=notes)
    for q in questions:
        start = time.perf_counter()
        hits = searcher.search(q.question, k=k, retrievers=retrievers)
        elapsed = time.perf_counter() - start
        ids = [h.arxiv_id or h.entry_id for h in hits]
        rank = ids.index(q.arxiv_id) + 1 if q.arxiv_id in ids else None
        report.results.append(QueryResult(q, rank, ids, elapsed))
    log.info(
        "evaluated %d questions: recall@1 %.3f, MRR %.3f",
        len(questions),
        report.overall.recall.get(1, 0.0),
        report.overall.mrr,
    )
    return report


def memory_coverage(settings: Settings) -> str:
    """What the translation memories (``translate.memory_files``) change in the index, or why
    they change nothing."""
    memory = load_memory(settings.translate.memory_files)
    out = OutDir(settings.out_dir)
    entries = out.load_entries()
    translated = {(t.entry_id, t.index): t.text.strip() for t in out.load_translations() if t.text.strip()}
    total = hits = replaced = 0
    for e in entries:
        for i, s in enumerate(e.sections):
            total += 1
            en = memory.lookup(s.text)
            if en is None:
                continue
            hits += 1
            old = translated.get((e.id, i))
            replaced += old is not None and old != en
    names = ", ".join(str(p) for p in memory.paths) or "none"
    if not memory.pairs:
        return f"translation memory ({names}): no pairs, so nothing to apply"
    if not hits:
        return (
            f"translation memory ({names}, {len(memory)} pairs) matches none of the {total} sections, so "
            "nothing to apply (a pair applies when its Korean equals a section's, white space aside)"
        )
    return (
        f"translation memory ({names}): {hits} of {total} sections indexed with its English "
        f"({replaced} in place of an existing translation)"
    )


def report_json(report: EvalReport) -> str:
    return json.dumps(report.as_dict(), ensure_ascii=False, indent=2)
