"""``digest eval retrieval --memory TM`` on a folder already translated applies the memory, or
says why it cannot (issue 17: the memory was silently ignored when a translation existed,
and the scores did not move)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.store.layout import OutDir
from tests.retrieval.helpers import make_retrieval_out

ENV = {"DIGEST_PROGRESS": "off", "DIGEST_INDEX__EMBEDDING": "endpoint", "DIGEST_LLM__PROVIDER": "mock"}
QUESTION = {"question": "Which paper describes a zebrafish orchestration lattice?", "arxiv_id": "2406.01014"}


@pytest.fixture
def translated(tmp_path: Path):
    (tmp_path / "out").mkdir()
    settings = make_retrieval_out(tmp_path / "out")
    entry = next(e for e in OutDir(settings.out_dir).load_entries() if e.id == "2406.01014")
    done = {t.index for t in OutDir(settings.out_dir).load_translations() if t.entry_id == entry.id}
    assert done == set(range(len(entry.sections)))  # already translated
    return settings, entry


def _eval(out: Path, questions: Path, *memory: Path) -> dict:
    args = ["eval", "retrieval", "--questions", str(questions), "--json", "--out", str(out)]
    for m in memory:
        args += ["--memory", str(m)]
    result = CliRunner().invoke(main, args, env=ENV)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_the_memory_is_applied_over_existing_translations(translated, tmp_path: Path) -> None:
    settings, entry = translated
    questions = tmp_path / "q.jsonl"
    questions.write_text(json.dumps(QUESTION) + "\n", encoding="utf-8")
    before = _eval(settings.out_dir, questions)
    assert before["overall"]["recall@1"] == 0.0  # no document says "zebrafish"

    tm = tmp_path / "tm.jsonl"
    english = "The zebrafish orchestration lattice splits phone operation into three agents."
    tm.write_text(json.dumps({"ko": entry.sections[0].text, "en": english}, ensure_ascii=False) + "\n")
    after = _eval(settings.out_dir, questions, tm)
    assert after["overall"]["recall@1"] == 1.0
    assert after["notes"] == [
        f"translation memory ({tm}): 1 of 12 sections indexed with its English (1 in place of an existing translation)"
    ]
    doc = next(d for d in OutDir(settings.out_dir).load_index_docs() if d.entry_id == entry.id)
    assert english in doc.english


def test_a_memory_that_matches_nothing_says_why(translated, tmp_path: Path) -> None:
    settings, _ = translated
    questions = tmp_path / "q.jsonl"
    questions.write_text(json.dumps(QUESTION) + "\n", encoding="utf-8")
    tm = tmp_path / "tm.jsonl"
    tm.write_text(
        json.dumps({"ko": "어디에도 없는 문장입니다.", "en": "A sentence found nowhere."}, ensure_ascii=False)
        + "\n"
    )
    result = CliRunner().invoke(
        main,
        [
            "eval",
            "retrieval",
            "--questions",
            str(questions),
            "--memory",
            str(tm),
            "--out",
            str(settings.out_dir),
        ],
        env=ENV,
    )
    assert result.exit_code == 0, result.output
    assert (
        f"translation memory ({tm}, 1 pairs) matches none of the 12 sections, so nothing to apply"
        in result.output
    )
