"""Retrieval evaluation: metrics by hand, per kind and language, CLI."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.errors import InputError
from pipeline.retrieval.evaluate import Metrics, evaluate_retrieval, load_questions, percentile
from pipeline.store.layout import OutDir
from tests.paths import FIXTURES
from tests.retrieval.helpers import make_retrieval_out

QUESTIONS = FIXTURES / "retrieval_questions.jsonl"
ENV = {"DIGEST_LLM__PROVIDER": "mock", "DIGEST_INDEX__EMBEDDING": "endpoint"}


@pytest.fixture(scope="module")
def settings(tmp_path_factory):
    return make_retrieval_out(tmp_path_factory.mktemp("eval"), metadata=False)


def test_metrics_by_hand():
    m = Metrics.of([1, 2, None, 5])
    assert m.n == 4
    assert m.recall == {1: 0.25, 5: 0.75, 10: 0.75}
    assert m.mrr == pytest.approx((1 + 0.5 + 0 + 0.2) / 4)
    assert percentile([10.0, 20.0, 30.0, 40.0], 50) == pytest.approx(25.0)
    assert percentile([5.0], 95) == 5.0


def test_evaluate_small_question_file(settings):
    report = evaluate_retrieval(settings, QUESTIONS, k=3)
    ranks = [r.rank for r in report.results]
    assert ranks == [1, 1, None]  # the last question's paper is not in the digests
    assert report.overall.mrr == pytest.approx(2 / 3)
    assert report.overall.recall[1] == pytest.approx(2 / 3)
    assert report.by_lang["ko"].recall[1] == 1.0
    assert report.by_kind["lookup"].mrr == pytest.approx(0.5)
    lat = report.latency_ms()
    assert lat["p50"] > 0 and lat["p95"] >= lat["p50"]
    assert "| kind=ko | 1 | 1.000" in report.table()
    assert [m["expected"] for m in report.as_dict()["misses"]] == ["0000.00000"]


def test_single_retriever_evaluation(settings):
    report = evaluate_retrieval(settings, QUESTIONS, k=3, retrievers=("bm25_ko",))
    assert report.results[1].rank == 1 and report.retrievers == ("bm25_ko",)


def test_question_file_errors(tmp_path):
    bad = tmp_path / "q.jsonl"
    bad.write_text('{"question": "x"}\n')
    with pytest.raises(InputError, match="arxiv_id"):
        load_questions(bad)
    with pytest.raises(InputError, match="not found"):
        load_questions(tmp_path / "missing.jsonl")
    ok = tmp_path / "ok.jsonl"
    ok.write_text('{"question": "무엇인가요?", "arxiv_id": "1"}\n')
    assert load_questions(ok)[0].lang == "ko"


def test_eval_cli_json(settings):
    res = CliRunner().invoke(
        main,
        [
            "eval",
            "retrieval",
            "--questions",
            str(QUESTIONS),
            "-k",
            "5",
            "--json",
            "--out",
            str(settings.out_dir),
        ],
        env=ENV,
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["overall"]["n"] == 3 and data["overall"]["mrr"] == pytest.approx(0.6667, abs=1e-4)
    assert set(data["by_lang"]) == {"en", "ko"} and set(data["by_kind"]) == {"lookup", "ko"}
    assert set(data["latency_ms"]) == {"p50", "p95"}


def test_eval_cli_memory_reindexes(settings, tmp_path):
    tm = tmp_path / "tm.jsonl"
    tm.write_text(
        json.dumps(
            {
                "ko": "39개 언어를 지원하는 공개 다국어 멀티모달 LLM인 Pangea를 소개합니다.",
                "en": "Introduces Pangea, an open multilingual multimodal LLM for 39 languages.",
            },
            ensure_ascii=False,
        )
        + "\n"
    )
    q = tmp_path / "q.jsonl"
    q.write_text(
        json.dumps({"question": "open multimodal LLM covering 39 languages", "arxiv_id": "2410.16153"}) + "\n"
    )
    res = CliRunner().invoke(
        main,
        [
            "eval",
            "retrieval",
            "--questions",
            str(q),
            "--memory",
            str(tm),
            "--json",
            "--out",
            str(settings.out_dir),
        ],
        env=ENV,
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["overall"]["recall@1"] == 1.0

    pangea = next(d for d in OutDir(settings.out_dir).load_index_docs() if d.entry_id == "2410.16153")
    assert "open multilingual multimodal LLM for 39 languages" in pangea.translated


def test_eval_answers_reports_the_four_metrics(settings):
    from pipeline.retrieval.evaluate_answers import AnswerReport, AnswerResult

    res = CliRunner().invoke(
        main,
        [
            "eval",
            "answers",
            "--questions",
            str(FIXTURES / "answer_questions.jsonl"),
            "--unanswerable",
            str(FIXTURES / "answer_unanswerable.jsonl"),
            "--json",
            "--out",
            str(settings.out_dir),
            "--llm",
            "mock",
        ],
        env=ENV,
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    m = data["overall"]
    assert (m["answerable"], m["unanswerable"]) == (3, 3)
    assert m["expected_entry_recall"] == 1.0 and m["refusal_rate_unanswerable"] == 1.0
    assert m["false_refusal_rate"] == 0.0 and m["refused_by"] == {"retrieval": 3}
    assert m["citation_precision"] == 1.0 and m["number_faithfulness"] == 1.0
    assert set(data["by_kind"]) == {"detail", "lookup", "ko", "unanswerable"}
    # the metrics by hand: 3 citations written, 2 supporting; 4 numbers, 1 made up
    a = AnswerResult("q", "1", "x", False, None, ["1", "2"], 1, 4, 1, 0.1)
    b = AnswerResult("u", None, "unanswerable", False, None, [], 0, 0, 0, 0.1)
    m = AnswerReport([a, b]).metrics()
    assert m["citation_precision"] == 0.6667 and m["number_faithfulness"] == 0.75
    assert m["expected_entry_recall"] == 1.0 and m["refusal_rate_unanswerable"] == 0.0


def test_eval_answers_bad_file_names_the_record(settings, tmp_path):
    from pipeline.retrieval.evaluate_answers import load_answer_questions

    bad = tmp_path / "q.jsonl"
    bad.write_text('{"question": "x", "arxiv_id": "1"}\n{"question": "no id"}\n')
    with pytest.raises(InputError, match="record 2 needs an 'arxiv_id'"):
        load_answer_questions(bad, answerable=True)
