from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.errors import ConfigError
from pipeline.settings import load_settings, masked_dump

KEY = "sk-test-abcdefghijklmnopqrstuvwxyz0123"


def test_precedence_flags_env_toml_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    toml = tmp_path / "digest.toml"
    toml.write_text(
        'out_dir = "from-toml"\n[llm]\nchat_model = "toml-model"\nconcurrency = 9\ntemperature = 0.5\n'
    )
    assert load_settings(toml).llm.chat_model == "toml-model"
    monkeypatch.setenv("DIGEST_LLM__CHAT_MODEL", "env-model")
    monkeypatch.setenv("DIGEST_LLM__CONCURRENCY", "3")
    s = load_settings(toml, llm={"chat_model": "flag-model", "concurrency": None})
    assert s.llm.chat_model == "flag-model"  # flag beats env
    assert s.llm.concurrency == 3  # env beats toml; an unset flag masks nothing
    assert s.llm.temperature == 0.5  # toml beats default
    assert s.out_dir == Path("from-toml")
    assert s.translate.glossary_file == Path("from-toml") / "glossary.tsv"
    assert load_settings().llm.max_retries == 5  # default


def test_openai_env_vars(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:11434/v1/")
    s = load_settings()
    assert s.llm.api_key is not None and s.llm.api_key.get_secret_value() == KEY
    assert s.llm.base_url == "http://127.0.0.1:11434/v1"
    assert KEY not in repr(s) and KEY not in json.dumps(masked_dump(s))


def test_bad_settings_are_clear(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="base_url must start with http"):
        load_settings(llm={"base_url": "ftp://x"})
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[llm]\nconcurrency = 'lots'\n")
    with pytest.raises(ConfigError, match="llm.concurrency"):
        load_settings(bad)
    monkeypatch.setenv("DIGEST_LLM__API_KEY", KEY)
    monkeypatch.setenv("DIGEST_LLM__TIMEOUT", "soon")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert KEY not in str(info.value)


def test_config_command_masks_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    result = CliRunner().invoke(main, ["config", "--json", "--llm", "mock", "--model", "m1"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["llm"]["provider"] == "mock" and data["llm"]["chat_model"] == "m1"
    assert data["llm"]["api_key"].startswith("****") and KEY not in result.output
    text = CliRunner().invoke(main, ["config"]).output
    assert "[llm]" in text and KEY not in text


def test_cli_bad_setting_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGEST_LLM__CONCURRENCY", "-1")
    result = CliRunner().invoke(main, ["config"])
    assert result.exit_code == 2
    assert "error: invalid settings" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("command", [["parse", "seeds"], ["translate", "--llm", "mock"], ["search", "x"]])
def test_out_that_is_a_file_is_a_clean_error(tmp_path: Path, command: list[str]) -> None:
    not_a_folder = tmp_path / "notes.txt"
    not_a_folder.write_text("mine\n")
    result = CliRunner().invoke(main, [*command, "--out", str(not_a_folder)])
    assert result.exit_code == 2, result.output
    assert "is a file, not a folder" in result.output and "Traceback" not in result.output
    assert not_a_folder.read_text() == "mine\n"


def test_os_errors_are_one_line_without_traceback(tmp_path: Path) -> None:
    """An output folder that cannot be created (its parent is a file) is reported, not raised."""
    (tmp_path / "file").write_text("")
    result = CliRunner().invoke(main, ["parse", "seeds", "--out", str(tmp_path / "file" / "sub")])
    assert result.exit_code == 1, result.output
    assert result.output.strip().splitlines()[-1].startswith("error: ")
    assert str(tmp_path / "file") in result.output and "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)
