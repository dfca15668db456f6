"""Answer evaluation (``digest eval answers``): ask every question of a labelled file through
the configured endpoint, and measure what reaches the reader.

- citation precision: citations the model wrote that support their sentence / all it wrote
  (a citation of an entry that was not retrieved, or whose text does not hold the sentence,
  is unsupported: ``claims.py``);
- recall of the expected entry: answers that cite the entry the question is about;
- number faithfulness: numbers the model wrote that its sources state / all it wrote;
- refusal rate on a file of unanswerable questions (and false refusals on the answerable).
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..progress import Progress
from ..records import Answer
from ..settings import Settings
from ..store.jsonl import iter_jsonl_dicts
from ..text.generated import stated_numbers
from .ask import AskSession

log = logging.getLogger(__name__)


@dataclass
class AnswerResult:
    question: str
    expected: str | None  # None: an unanswerable question
    kind: str
    refused: bool
    refused_by: str | None
    cited: list[str]
    unsupported_citations: int
    numbers: int  # numbers the model stated
    unsupported_numbers: int
    seconds: float


@dataclass
class AnswerReport:
    results: list[AnswerResult] = field(default_factory=list)

    def _answerable(self) -> list[AnswerResult]:
        return [r for r in self.results if r.expected is not None]

    def _unanswerable(self) -> list[AnswerResult]:
        return [r for r in self.results if r.expected is None]

    def metrics(self) -> dict[str, Any]:
        ok = self._answerable()
        bad = self._unanswerable()
        supported = sum(len(r.cited) for r in ok + bad)
        written = supported + sum(r.unsupported_citations for r in ok + bad)
        numbers = sum(r.numbers for r in ok + bad)
        wrong = sum(r.unsupported_numbers for r in ok + bad)
        return {
            "answerable": len(ok),
            "unanswerable": len(bad),
            "citation_precision": round(supported / written, 4) if written else None,
            "expected_entry_recall": round(sum(r.expected in r.cited for r in ok) / len(ok), 4)
            if ok
            else None,
            "number_faithfulness": round((numbers - wrong) / numbers, 4) if numbers else None,
            "refusal_rate_unanswerable": round(sum(r.refused for r in bad) / len(bad), 4) if bad else None,
            "false_refusal_rate": round(sum(r.refused for r in ok) / len(ok), 4) if ok else None,
            "refused_by": dict(Counter(r.refused_by for r in self.results if r.refused)),
            "seconds_per_question": round(sum(r.seconds for r in self.results) / len(self.results), 3)
            if self.results
            else None,
        }

    def by_kind(self) -> dict[str, dict[str, Any]]:
        kinds = sorted({r.kind for r in self.results})
        return {k: AnswerReport([r for r in self.results if r.kind == k]).metrics() for k in kinds}

    def as_dict(self) -> dict[str, Any]:
        return {
            "overall": self.metrics(),
            "by_kind": self.by_kind(),
            "misses": [
                {"question": r.question, "expected": r.expected, "cited": r.cited, "refused_by": r.refused_by}
                for r in self._answerable()
                if r.expected not in r.cited
            ],
            "answered_unanswerable": [r.question for r in self._unanswerable() if not r.refused],
        }

    def table(self) -> str:
        def fmt(v: Any) -> str:
            return "-" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)

        cols = [
            "citation_precision",
            "expected_entry_recall",
            "number_faithfulness",
            "refusal_rate_unanswerable",
            "false_refusal_rate",
        ]
        lines = ["| group | n | " + " | ".join(c.replace("_", " ") for c in cols) + " |"]
        lines.append("|---|---:|" + "---:|" * len(cols))
        rows = [("overall", self.metrics()), *((f"kind={k}", m) for k, m in self.by_kind().items())]
        for name, m in rows:
            n = m["answerable"] + m["unanswerable"]
            lines.append(f"| {name} | {n} | " + " | ".join(fmt(m[c]) for c in cols) + " |")
        return "\n".join(lines)


def load_answer_questions(path: Path, *, answerable: bool) -> list[dict[str, Any]]:
    path = Path(path)
    if not path.is_file():
        raise InputError(f"question file not found: {path}")
    out = []
    for i, d in enumerate(iter_jsonl_dicts(path), 1):
        q = d.get("question")
        aid = d.get("arxiv_id")
        if not isinstance(q, str) or not q.strip():
            raise InputError(f"{path}: record {i} needs a non-empty 'question'")
        if answerable and (not isinstance(aid, str) or not aid.strip()):
            raise InputError(f"{path}: record {i} needs an 'arxiv_id' (the entry that answers it)")
        kind = str(d.get("kind") or ("all" if answerable else "unanswerable"))
        out.append({"question": q.strip(), "arxiv_id": aid.strip() if answerable else None, "kind": kind})
    if not out:
        raise InputError(f"{path}: no questions")
    return out


def _result(q: dict[str, Any], a: Answer, seconds: float) -> AnswerResult:
    return AnswerResult(
        question=q["question"],
        expected=q["arxiv_id"],
        kind=q["kind"],
        refused=a.refused,
        refused_by=a.refused_by,
        cited=[c.arxiv_id for c in a.citations],
        unsupported_citations=len(a.unsupported_citations),
        numbers=0 if a.refused else len(stated_numbers(a.answer)) + len(a.unsupported_numbers),
        unsupported_numbers=len(a.unsupported_numbers),
        seconds=seconds,
    )


def evaluate_answers(
    settings: Settings,
    questions_path: Path,
    unanswerable_path: Path | None = None,
    *,
    llm: Any = None,
    session: AskSession | None = None,
) -> AnswerReport:
    """Ask every question (answerable, then unanswerable) and collect the four metrics."""
    todo = load_answer_questions(questions_path, answerable=True)
    if unanswerable_path is not None:
        todo += load_answer_questions(unanswerable_path, answerable=False)
    session = session or AskSession(settings, llm=llm)
    report = AnswerReport()
    with Progress(len(todo), "eval answers", mode=settings.progress, unit="question") as progress:
        for q in todo:
            start = time.perf_counter()
            answer = session.ask(q["question"])
            report.results.append(_result(q, answer, time.perf_counter() - start))
            progress.advance()
    log.info("evaluated %d answers: %s", len(todo), report.metrics())
    return report


def answer_report_json(report: AnswerReport) -> str:
    return json.dumps(report.as_dict(), ensure_ascii=False, indent=2)
