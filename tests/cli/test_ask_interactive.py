"""Interactive `digest ask`: from a pipe (one question per line) and on a real terminal
(line editing and history, Ctrl-C cancels the question, Ctrl-D leaves with status 0, a
follow-up refers to the previous answer)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.cli.interactive import PROMPT
from tests.cli.everyday import Terminal
from tests.retrieval.helpers import make_retrieval_out

ENV = {"DIGEST_LLM__PROVIDER": "mock", "DIGEST_INDEX__EMBEDDING": "endpoint", "DIGEST_PROGRESS": "off"}
Q1 = "What is the size of the MMMB benchmark from Parrot, in questions?"
FOLLOW_UP = "How many languages does it cover?"


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    return make_retrieval_out(tmp_path_factory.mktemp("ask-interactive")).out_dir


def logged() -> list[dict]:
    return json.loads(CliRunner().invoke(main, ["logs", "list", "--json", "-n", "50"]).stdout)


def test_piped_questions_with_a_follow_up(out: Path) -> None:
    stdin = f"{Q1}\n\n{FOLLOW_UP}\nexit\nWhat is never asked?\n"
    result = CliRunner().invoke(main, ["ask", "--out", str(out)], input=stdin, env=ENV)
    assert result.exit_code == 0, result.output
    answers = result.stdout.split("Sources:")
    assert len(answers) == 3  # two answers, each with its sources; nothing after `exit`
    assert "12,000" in answers[0] and "6 languages" in answers[1] and "[2406.02539]" in answers[1]
    assert PROMPT not in result.output  # no prompt into a pipe
    rows = logged()
    assert [r["question"] for r in rows] == [Q1, FOLLOW_UP]
    assert len({r["conversation_id"] for r in rows}) == 1


def test_piped_json_lines(out: Path) -> None:
    stdin = f"{Q1}\n{FOLLOW_UP}\n"
    result = CliRunner().invoke(main, ["ask", "--json", "--out", str(out)], input=stdin, env=ENV)
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [a["question"] for a in lines] == [Q1, FOLLOW_UP]
    assert [c["arxiv_id"] for c in lines[1]["citations"]] == ["2406.02539"]


def test_on_a_terminal_history_ctrl_c_follow_up_and_ctrl_d(out: Path) -> None:
    user_dir = Path(os.environ["DIGEST_USER_DIR"])
    env = {**ENV, "DIGEST_LLM__MOCK_FAULTS": "latency_ms=2500"}  # time to press Ctrl-C mid-answer
    term = Terminal(["ask", "--out", str(out)], env)
    try:
        term.read_until(PROMPT)
        term.type(Q1 + "\r")
        first = term.read_until(PROMPT)
        assert "12,000" in first and "Sources:" in first

        term.type("\x1b[A\r")  # Up recalls the last question (readline), Enter asks it again
        again = term.read_until(PROMPT)
        assert Q1 in again and "12,000" in again and "^[[A" not in again

        term.type("a question I change my mind about\x03")  # Ctrl-C while typing: dropped
        dropped = term.read_until(PROMPT)
        assert "Sources:" not in dropped and "cannot answer" not in dropped

        term.type(FOLLOW_UP + "\r")  # Ctrl-C while it is answered: cancelled, back to the prompt
        time.sleep(0.8)
        term.type("\x03")
        cancelled = term.read_until(PROMPT)
        assert "(cancelled)" in cancelled and "Sources:" not in cancelled
        assert "finished work is saved" not in cancelled and "Traceback" not in cancelled

        term.type(FOLLOW_UP + "\r")  # a follow-up: "it" is Parrot, from the previous answer
        follow = term.read_until(PROMPT)
        assert "6 languages" in follow and "[2406.02539]" in follow

        term.type("\x04")  # Ctrl-D leaves
        assert term.wait() == 0
    finally:
        term.close()
    assert "Traceback" not in term.screen
    history = (user_dir / "ask_history").read_text()
    assert Q1 in history and FOLLOW_UP in history
    assert (user_dir / "ask_history").stat().st_mode & 0o077 == 0
    rows = logged()
    assert [r["question"] for r in rows] == [Q1, Q1, FOLLOW_UP]  # the cancelled one is not logged
    assert len({r["conversation_id"] for r in rows}) == 1
