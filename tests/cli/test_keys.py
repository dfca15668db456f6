"""`digest keys`: API keys stored 0600 in the user dir, used below env vars and config files,
never printed or logged; a keys file others can read is refused."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli import main
from tests.cli.everyday import Terminal

KEY = "sk-stored-abcdefghijklmnopqrstuvwxyz9876"
ENV_KEY = "sk-env-zyxwvutsrqponmlkjihgfedcba0123"


def run(*args: str, **kw):
    return CliRunner().invoke(main, list(args), **kw)


def keys_file() -> Path:
    return Path(os.environ["DIGEST_USER_DIR"]) / "keys.json"


def test_set_from_stdin_list_path_and_use(caplog: pytest.LogCaptureFixture) -> None:
    result = run("keys", "set", "openai", input=KEY + "\n")
    assert result.exit_code == 0, result.output
    path = keys_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert json.loads(path.read_text()) == {"openai": KEY}
    assert run("keys", "list").stdout == "openai\n"
    assert run("keys", "path").stdout.strip() == str(path)

    shown = run("config", "--show-origin", "--json")
    data = json.loads(shown.stdout)["llm.api_key"]
    assert data == {"value": "****" + KEY[-4:], "origin": f"keys file {path} (openai)"}
    outputs = [result.output, run("keys", "list").output, shown.output, run("config").output, caplog.text]
    assert not any(KEY in o or KEY[8:] in o for o in outputs)  # never printed, never logged

    env_wins = json.loads(run("config", "--show-origin", "--json", env={"OPENAI_API_KEY": ENV_KEY}).stdout)
    assert env_wins["llm.api_key"]["origin"] == "env OPENAI_API_KEY"


def test_value_option_and_dash_and_remove() -> None:
    assert run("keys", "set", "azure", "--value", "-", input="az-key-123456789\n").exit_code == 0
    assert run("keys", "set", "openai", "--value", KEY).exit_code == 0
    assert run("keys", "list").stdout.split() == ["azure", "openai"]
    data = json.loads(run("config", "--show-origin", "--json", "--llm", "azure").stdout)
    assert data["llm.api_key"]["origin"].endswith("(azure)")
    assert run("keys", "remove", "azure").exit_code == 0
    assert run("keys", "list").stdout.split() == ["openai"]
    missing = run("keys", "remove", "azure")
    assert missing.exit_code == 2 and "no key named 'azure'" in missing.output
    bad = run("keys", "set", "no good", input="x\n")
    assert bad.exit_code == 2 and "invalid key name" in bad.output
    empty = run("keys", "set", "openai", input="\n")
    assert empty.exit_code == 2 and "empty key" in empty.output
    assert json.loads(keys_file().read_text()) == {"openai": KEY}  # nothing lost


def test_a_keys_file_others_can_read_is_refused() -> None:
    assert run("keys", "set", "openai", input=KEY + "\n").exit_code == 0
    keys_file().chmod(0o644)
    result = run("config", "--show-origin", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["llm.api_key"] == {"value": None, "origin": "default"}
    assert f"keys file {keys_file()} can be read by other users (mode 0644)" in result.stderr
    assert "chmod 600" in result.stderr and KEY not in result.output
    # storing a key again rewrites the file for its owner only, and the keys are used again
    assert run("keys", "set", "azure", input="az-key-123456789\n").exit_code == 0
    assert stat.S_IMODE(keys_file().stat().st_mode) == 0o600
    assert json.loads(run("config", "--json").stdout)["llm"]["api_key"] == "****" + KEY[-4:]


def test_the_prompt_does_not_echo_the_key() -> None:
    """On a terminal: a hidden prompt, as for a password."""
    term = Terminal(["keys", "set", "openai"], {})
    try:
        term.read_until("Enter the openai key")
        term.type(KEY + "\r")
        assert term.wait() == 0
    finally:
        term.close()
    assert KEY not in term.screen and "stored key openai" in term.screen
    assert json.loads(keys_file().read_text()) == {"openai": KEY}


def origin(*args: str, env: dict[str, str] | None = None) -> dict:
    result = run("config", "--show-origin", "--json", *args, env=env)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["llm.api_key"]


def test_a_stored_key_goes_only_to_its_own_service() -> None:
    """The key stored as `openai` is OpenAI's: never sent to another base URL or a hosted
    preset (each has its own key name), and a local server gets none."""
    for name, value in (
        ("openai", KEY),
        ("openrouter", "sk-or-stored-0123456789"),
        ("api.together.xyz", "tg-0123456789"),
    ):
        assert run("keys", "set", name, "--value", value).exit_code == 0
    path = keys_file()
    assert origin() == {"value": "****" + KEY[-4:], "origin": f"keys file {path} (openai)"}
    assert origin("--base-url", "https://api.openai.com/v1")["origin"].endswith("(openai)")
    # a hosted preset, by name or by its URL: its own stored key
    assert origin("--preset", "openrouter")["origin"] == f"keys file {path} (openrouter)"
    assert origin("--base-url", "https://openrouter.ai/api/v1")["value"] == "****6789"
    # any other endpoint: the key stored under its host name, else none
    assert origin("--base-url", "https://api.together.xyz/v1")["origin"].endswith("(api.together.xyz)")
    assert origin("--preset", "groq")["value"] is None
    assert origin("--base-url", "https://llm.example.com/v1") == {"value": None, "origin": "default"}
    # a server on this machine needs no key: none is sent
    assert origin("--preset", "ollama")["value"] is None
    assert origin("--base-url", "http://127.0.0.1:8080/v1")["value"] is None
    # OPENAI_API_KEY in the environment is not sent to a service with a key of its own
    env = {"OPENAI_API_KEY": ENV_KEY}
    assert origin("--preset", "openrouter", env=env)["origin"] == f"keys file {path} (openrouter)"
    assert origin("--preset", "groq", env=env)["value"] is None
    assert origin("--base-url", "https://llm.example.com/v1", env=env)["origin"] == "env OPENAI_API_KEY"
    # and the command that would need a key says which one, naming no key's value
    failed = run("models", "--base-url", "https://llm.example.com/v1")
    assert failed.exit_code == 2, failed.output
    assert "no API key for llm.example.com" in failed.output
    assert "digest keys set llm.example.com" in failed.output and KEY not in failed.output
