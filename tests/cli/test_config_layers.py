"""Settings from every layer a daily user has, and `digest config --show-origin` naming where
each value came from: flags, env vars, ./.env, the project digest.toml, the user's
config.toml (XDG aware), the keys file, defaults.  A bad value is blamed on its source."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli import main

KEY = "sk-dotenv-abcdefghijklmnopqrstuvwxyz0123"


def origins(*args: str, env: dict[str, str] | None = None) -> dict[str, dict[str, object]]:
    result = CliRunner().invoke(main, ["config", "--show-origin", "--json", *args], env=env)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture
def user_dir() -> Path:
    path = Path(os.environ["DIGEST_USER_DIR"])
    path.mkdir(parents=True, exist_ok=True)
    return path


def test_each_layer_and_its_origin(tmp_path: Path, user_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DIGEST_ENV_FILE")  # the real default: ./.env of the working folder
    (user_dir / "config.toml").write_text(
        '[llm]\nchat_model = "user-model"\ntemperature = 0.3\ntimeout = 30\nconcurrency = 2\n'
        '[newsletter]\ntitle = "My digest"\n'
    )
    Path("digest.toml").write_text('[llm]\nchat_model = "project-model"\ntimeout = 20\n')
    Path(".env").write_text(f"OPENAI_API_KEY={KEY}\nDIGEST_LLM__TIMEOUT=15\nDIGEST_LLM__MAX_RETRIES=2\n")
    data = origins("--model", "flag-model", env={"DIGEST_LLM__MAX_RETRIES": "3"})

    def at(key: str) -> tuple[object, str]:
        return data[key]["value"], str(data[key]["origin"])

    assert at("llm.chat_model") == ("flag-model", "command line")
    assert at("llm.max_retries") == (3, "env DIGEST_LLM__MAX_RETRIES")  # env beats .env
    dotenv = str(Path(".env"))
    assert at("llm.timeout") == (15.0, f"{dotenv} DIGEST_LLM__TIMEOUT")  # .env beats the files
    value, where = at("llm.api_key")
    assert value == "****" + KEY[-4:] and where == f"{dotenv} OPENAI_API_KEY"
    assert at("llm.temperature") == (0.3, f"config file {user_dir / 'config.toml'}")  # user file
    assert at("newsletter.title") == ("My digest", f"config file {user_dir / 'config.toml'}")
    assert at("llm.concurrency") == (2, f"config file {user_dir / 'config.toml'}")
    assert at("llm.abort_after_failures") == (4, "default")
    text = CliRunner().invoke(main, ["config", "--show-origin"], env={"DIGEST_LLM__MAX_RETRIES": "3"})
    assert "llm.max_retries = 3" in text.stdout and "# env DIGEST_LLM__MAX_RETRIES" in text.stdout
    assert KEY not in text.output + json.dumps(data)  # secrets masked


def test_project_file_beats_the_user_file(tmp_path: Path, user_dir: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (user_dir / "config.toml").write_text('[llm]\nchat_model = "user-model"\ntimeout = 30\n')
    Path("digest.toml").write_text('[llm]\nchat_model = "project-model"\n')
    data = origins()
    assert data["llm.chat_model"] == {"value": "project-model", "origin": "config file digest.toml"}
    assert data["llm.timeout"]["value"] == 30.0
    explicit = tmp_path / "other.toml"
    explicit.write_text('[llm]\nchat_model = "explicit"\n')
    assert origins("--config", str(explicit))["llm.chat_model"]["value"] == "explicit"


def test_user_dir_is_xdg_aware(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DIGEST_USER_DIR")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    run = CliRunner().invoke
    assert run(main, ["keys", "path"]).stdout.strip() == str(tmp_path / "xdg" / "digest" / "keys.json")
    assert run(main, ["logs", "path"]).stdout.strip() == str(tmp_path / "xdg" / "digest" / "logs.db")
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert run(main, ["keys", "path"]).stdout.strip() == str(
        tmp_path / "home" / ".config" / "digest" / "keys.json"
    )
    (tmp_path / "xdg" / "digest").mkdir(parents=True)
    (tmp_path / "xdg" / "digest" / "config.toml").write_text('[llm]\nchat_model = "from-xdg"\n')
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    data = origins()
    assert data["llm.chat_model"]["value"] == "from-xdg"
    assert data["user_dir"] == {"value": str(tmp_path / "xdg" / "digest"), "origin": "default"}
    monkeypatch.setenv("DIGEST_USER_DIR", str(tmp_path / "mine"))
    assert origins()["user_dir"] == {"value": str(tmp_path / "mine"), "origin": "env DIGEST_USER_DIR"}


@pytest.mark.parametrize("with_project_file", [False, True])
def test_a_bad_env_var_is_blamed_by_name(tmp_path: Path, monkeypatch, with_project_file: bool) -> None:
    monkeypatch.chdir(tmp_path)
    if with_project_file:  # the case that used to say "(config file digest.toml)"
        Path("digest.toml").write_text('[llm]\nchat_model = "gpt-4o-mini"\n')
    result = CliRunner().invoke(main, ["config"], env={"DIGEST_LLM__TIMEOUT": "soon"})
    assert result.exit_code == 2
    line = result.output.strip()
    assert line.startswith("error: invalid settings: llm.timeout: ") and "Traceback" not in line
    assert line.endswith("(from env DIGEST_LLM__TIMEOUT)") and "digest.toml" not in line


def test_bad_values_in_files_are_blamed_on_the_file(tmp_path: Path, user_dir: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (user_dir / "config.toml").write_text("[llm]\nconcurrency = 'lots'\n")
    result = CliRunner().invoke(main, ["config"])
    assert result.exit_code == 2 and f"(from config file {user_dir / 'config.toml'})" in result.output
    (user_dir / "config.toml").unlink()
    monkeypatch.delenv("DIGEST_ENV_FILE")
    Path(".env").write_text("DIGEST_NEWSLETTER__SITE_URL=example.org\n")
    result = CliRunner().invoke(main, ["config"])
    assert result.exit_code == 2
    assert (
        "newsletter.site_url" in result.output and "(from .env DIGEST_NEWSLETTER__SITE_URL)" in result.output
    )


def test_user_dir_cannot_come_from_a_file(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("digest.toml").write_text(f'user_dir = "{tmp_path / "elsewhere"}"\n')
    result = CliRunner().invoke(main, ["config"])
    assert result.exit_code == 2 and "set DIGEST_USER_DIR" in result.output
