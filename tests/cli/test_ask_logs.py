"""`digest logs`: every `ask` kept in SQLite in the user dir (question, answer, citations,
model, tokens, time, why refused), listed, searched, as JSON; off by setting or --no-log.
`ask -c` continues the last logged conversation: a follow-up can refer to the answer."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli import main
from tests.retrieval.helpers import make_retrieval_out

ENV = {"DIGEST_LLM__PROVIDER": "mock", "DIGEST_INDEX__EMBEDDING": "endpoint", "DIGEST_PROGRESS": "off"}
Q1 = "What is the size of the MMMB benchmark from Parrot, in questions?"
FOLLOW_UP = "How many languages does it cover?"


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    return make_retrieval_out(tmp_path_factory.mktemp("ask-logs")).out_dir


def ask(out: Path, *args: str, env: dict[str, str] | None = None):
    result = CliRunner().invoke(main, ["ask", *args, "--out", str(out)], env={**ENV, **(env or {})})
    assert result.exit_code == 0, result.output
    return result


def logs(*args: str) -> list[dict]:
    result = CliRunner().invoke(main, ["logs", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_every_ask_is_logged_with_model_tokens_time_and_citations(out: Path) -> None:
    ask(out, Q1)
    ask(out, "What is the capital of France?")
    first, refused = logs("list")
    assert first["question"] == Q1 and "12,000" in first["answer"]
    assert first["citations"] == ["2406.02539"]
    assert (first["provider"], first["model"]) == ("mock", "gpt-4o-mini")
    assert first["prompt_tokens"] > 0 and first["completion_tokens"] > 0
    assert first["duration_ms"] >= 0 and first["created"].endswith("Z") and not first["refused"]
    assert first["out_dir"] == str(out)
    assert refused["refused"] and refused["refused_by"] == "retrieval"
    assert refused["model"] is None and refused["prompt_tokens"] == 0  # no LLM call was made
    db = Path(os.environ["DIGEST_USER_DIR"]) / "logs.db"
    assert stat.S_IMODE(db.stat().st_mode) == 0o600  # past questions are private

    text = CliRunner().invoke(main, ["logs"]).stdout  # no subcommand: the last ones, readable
    assert f"Q: {Q1}" in text and "Sources: 2406.02539" in text and "refused by retrieval" in text
    assert "mock/gpt-4o-mini" in text and "tokens" in text
    assert [r["question"] for r in logs("list", "-n", "1")] == ["What is the capital of France?"]


def test_search_the_logs(out: Path) -> None:
    ask(out, Q1)
    ask(out, "스마트폰 조작을 계획, 결정, 반성 에이전트로 나눈 연구는 무엇인가요?")
    assert [r["question"] for r in logs("search", "mmmb")] == [Q1]  # case-insensitive
    assert [r["citations"][0] for r in logs("search", "에이전트")] == ["2406.01014"]
    assert logs("search", "12,000")[0]["question"] == Q1  # answers are searched too
    assert logs("search", "100%_nothing") == []  # LIKE wildcards are literal
    nothing = CliRunner().invoke(main, ["logs", "search", "nowhere"])
    assert nothing.exit_code == 0 and "no logged questions" in nothing.stderr


def test_no_log_flag_and_setting(out: Path, tmp_path: Path) -> None:
    ask(out, Q1, "--no-log")
    ask(out, Q1, env={"DIGEST_LOGS__ENABLED": "false"})
    assert logs("list") == []
    assert not (Path(os.environ["DIGEST_USER_DIR"]) / "logs.db").exists()


def test_continue_lets_a_follow_up_refer_to_the_answer(out: Path) -> None:
    alone = ask(out, FOLLOW_UP)
    assert "I cannot answer" in alone.stdout  # "it" alone names nothing the digests cover
    ask(out, Q1)
    follow = ask(out, "-c", FOLLOW_UP)
    assert "6 languages" in follow.stdout and "[2406.02539]" in follow.stdout
    *_, first, second = logs("list")
    assert second["question"] == FOLLOW_UP and second["citations"] == ["2406.02539"]
    assert first["conversation_id"] == second["conversation_id"]  # the same conversation
    by_cid = logs("list", "--cid", first["conversation_id"])
    assert [r["question"] for r in by_cid] == [Q1, FOLLOW_UP]
    again = ask(out, "--cid", first["conversation_id"], FOLLOW_UP)
    assert "[2406.02539]" in again.stdout
    unknown = CliRunner().invoke(main, ["ask", "--cid", "nope", FOLLOW_UP, "--out", str(out)], env=ENV)
    assert unknown.exit_code == 2 and "no conversation 'nope'" in unknown.output


def test_continue_without_any_logs_starts_afresh(out: Path) -> None:
    result = ask(out, "-c", Q1)
    assert "12,000" in result.stdout and "no earlier conversation" in result.stderr
