"""Answer checks with the mock LLM (``digest eval answers``): citation precision, recall of
the expected entry, number faithfulness, refusal rate on this project's unanswerable questions
(``benchmarks/data/questions-unanswerable.jsonl``: topical questions about papers not in the
seeds) and false refusals on the development set, with the coverage each question's best entry
gets from the retrieval-side support check.

    .venv/bin/python -m benchmarks answers
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from .bench_fusion import EVAL_DIR, OWN, build, memory_files

TITLE = "Answers with the mock LLM: citations, numbers, refusals (issue 15)"


def run() -> str:
    questions = EVAL_DIR / "questions-public.jsonl"
    if not questions.is_file():
        return f"skipped: eval files not found in {EVAL_DIR}"
    logging.getLogger("pipeline").setLevel(logging.WARNING)
    from pipeline.retrieval.evaluate_answers import evaluate_answers
    from pipeline.settings import load_settings

    memory, how = memory_files()
    with tempfile.TemporaryDirectory(prefix="digest-answers-") as tmp:
        build(Path(tmp), memory)
        settings = load_settings(out_dir=Path(tmp), progress="off", llm={"provider": "mock"})
        report = evaluate_answers(settings, questions, OWN / "questions-unanswerable.jsonl")
    m = report.metrics()
    return "\n".join(
        [
            f"Corpus: the seed digests, English from {how}.  Answerable: {questions.name} "
            f"({m['answerable']}); unanswerable: `benchmarks/data/questions-unanswerable.jsonl` "
            f"({m['unanswerable']}).  ask.min_relevance={settings.ask.min_relevance}, "
            f"ask.combination_gain={settings.ask.combination_gain}.  Refused by: {m['refused_by']}.",
            "",
            report.table(),
            "",
            "Unanswerable questions answered: "
            + (", ".join(f'"{q}"' for q in report.as_dict()["answered_unanswerable"]) or "none"),
        ]
    )
