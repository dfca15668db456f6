"""The user dir's files on their own: broken files give clear errors, nothing is lost."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.errors import ConfigError, DigestError
from pipeline.userdata.keys import KeyStore
from pipeline.userdata.logs import LoggedAsk, LogStore


def test_logs_oldest_first_and_per_conversation(tmp_path: Path) -> None:
    store = LogStore(tmp_path / "logs.db")
    assert store.recent() == [] and store.count() == 0 and store.last_conversation_id() is None
    for i, cid in enumerate(["a", "b", "a"]):
        store.record(LoggedAsk(conversation_id=cid, question=f"q{i}", answer=f"a{i}"))
    assert [r.question for r in store.recent(2)] == ["q1", "q2"]
    assert [r.question for r in store.recent(10, conversation_id="a")] == ["q0", "q2"]
    assert store.last_conversation_id() == "a" and store.count() == 3


def test_secrets_never_reach_the_logs(tmp_path: Path) -> None:
    store = LogStore(tmp_path / "logs.db")
    store.record(LoggedAsk(conversation_id="a", question="is sk-abcdefghijklmnop mine?", answer="-"))
    assert "sk-abcdefghijklmnop" not in (tmp_path / "logs.db").read_bytes().decode("utf-8", "replace")


def test_a_broken_logs_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "logs.db"
    path.write_text("not a database\n" * 100)
    with pytest.raises(DigestError, match=f"the logs {path} cannot be used"):
        LogStore(path).recent()


def test_a_broken_keys_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text("{not json")
    path.chmod(0o600)
    with pytest.raises(ConfigError, match=f"cannot read keys file {path}: not valid JSON"):
        KeyStore(tmp_path).set("openai", "sk-x")
    assert path.read_text() == "{not json"  # nothing overwritten
    result = CliRunner().invoke(main, ["keys", "list"], env={"DIGEST_USER_DIR": str(tmp_path)})
    assert result.exit_code == 2 and "not valid JSON" in result.output and "Traceback" not in result.output
