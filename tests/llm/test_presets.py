"""Presets (one table entry per server), explicit settings over presets, and prices: a local
endpoint costs $0 unless prices are set, OpenAI models their list price, and --dry-run says
which basis it used."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.errors import ConfigError
from pipeline.llm.presets import PRESETS, preset_names
from pipeline.settings import load_settings
from tests.paths import FIXTURES

NAMES = ("openai", "azure", "ollama", "llamacpp", "vllm", "lmstudio", "openrouter", "deepseek", "groq")


def test_the_presets_are_the_servers_people_run() -> None:
    assert preset_names() == NAMES
    for name in NAMES:
        llm = load_settings(None, llm={"preset": name}).llm
        p = PRESETS[name]
        assert (llm.provider, llm.json_mode, llm.concurrency, llm.timeout, llm.max_retries) == (
            p.provider, p.json_mode, p.concurrency, p.timeout, p.max_retries,
        )  # fmt: skip
        assert llm.base_url == p.base_url
        # a preset's values are the preset's, not the user's: the LLM layer may still adapt them
        assert not llm.is_explicit("concurrency") and llm.is_explicit("preset")


def test_llamacpp_preset_suits_a_one_at_a_time_server() -> None:
    llm = load_settings(None, llm={"preset": "llamacpp"}).llm
    assert llm.base_url == "http://127.0.0.1:8080/v1" and llm.json_mode == "json_object_schema"
    assert (llm.concurrency, llm.max_retries) == (1, 1) and llm.price_input_per_million == 0.0


def test_explicit_settings_win_over_the_preset(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DIGEST_LLM__CONCURRENCY", "3")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://gpu-box:11434/v1")
    toml = tmp_path / "digest.toml"
    toml.write_text('[llm]\npreset = "ollama"\ntimeout = 42\n', encoding="utf-8")
    llm = load_settings(toml, llm={"json_mode": "json_object"}).llm
    assert (llm.concurrency, llm.base_url, llm.timeout, llm.json_mode) == (
        3, "http://gpu-box:11434/v1", 42.0, "json_object",
    )  # fmt: skip
    assert llm.max_retries == PRESETS["ollama"].max_retries
    # a local preset on another machine is still self-hosted: $0
    assert llm.price_basis.startswith("local endpoint: $0")


def test_a_service_preset_reads_its_own_key_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GROQ_API_KEY", "gsk-0123456789abcdef")
    llm = load_settings(None, llm={"preset": "groq"}).llm
    assert llm.api_key.get_secret_value() == "gsk-0123456789abcdef"
    assert llm.chat_model == "llama-3.3-70b-versatile"
    assert "price unknown" in llm.price_basis  # not a $0 endpoint, and not pretending to know
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-0123456789")  # OpenAI's key: never sent to Groq
    assert (
        load_settings(None, llm={"preset": "groq"}).llm.api_key.get_secret_value() == "gsk-0123456789abcdef"
    )
    monkeypatch.setenv("DIGEST_LLM__API_KEY", "sk-explicit-0123456789")  # the user's key for this endpoint
    assert (
        load_settings(None, llm={"preset": "groq"}).llm.api_key.get_secret_value() == "sk-explicit-0123456789"
    )


def test_an_unknown_preset_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="unknown preset 'llama'; known: openai, azure, ollama, llamacpp"):
        load_settings(None, llm={"preset": "llama"})
    res = CliRunner().invoke(main, ["config", "--preset", "llama"])
    assert res.exit_code == 2 and "llamacpp" in res.output


@pytest.mark.parametrize(
    ("llm", "basis", "price_in"),
    [
        ({}, "gpt-4o-mini at $0.15 in / $0.6 out per 1M tokens (list price)", 0.15),
        (
            {"chat_model": "gpt-4.1-2025-04-14"},
            "gpt-4.1-2025-04-14 at $2 in / $8 out per 1M tokens (list price)",
            2.0,
        ),
        ({"base_url": "http://localhost:11434/v1"}, "local endpoint: $0", 0.0),
        ({"base_url": "http://[::1]:8000/v1", "price_input_per_million": 0.5}, "at $0.5 in", 0.5),
        ({"base_url": "https://api.example.com/v1", "chat_model": "qwen"}, "qwen: price unknown", 0.15),
        ({"provider": "mock"}, "gpt-4o-mini at $0.15 in", 0.15),  # the mock plays OpenAI
    ],
)
def test_prices_and_their_basis(llm: dict, basis: str, price_in: float) -> None:
    cfg = load_settings(None, llm=llm).llm
    assert basis in cfg.price_basis and cfg.price_input_per_million == price_in


def test_dry_run_says_a_local_endpoint_costs_nothing(tmp_path: Path) -> None:
    runner = CliRunner()
    out = str(tmp_path / "out")
    assert runner.invoke(main, ["parse", str(FIXTURES / "translate_digest.md"), "--out", out]).exit_code == 0
    res = runner.invoke(main, ["translate", "--dry-run", "--preset", "llamacpp", "--out", out])
    assert res.exit_code == 0, res.output
    assert "~$0.0000 online" in res.output and "local endpoint: $0" in res.output
    res = runner.invoke(main, ["translate", "--dry-run", "--llm", "mock", "--out", out])
    assert "gpt-4o-mini at $0.15 in / $0.6 out per 1M tokens (list price)" in res.output


def test_azure_preset_builds_the_azure_client(tmp_path: Path) -> None:
    import openai

    from pipeline.llm import make_llm

    cfg = {"preset": "azure", "azure_endpoint": "https://r.openai.azure.com", "api_key": "k-0123456789"}
    settings = load_settings(None, out_dir=tmp_path, llm=cfg)
    assert settings.llm.provider == "azure" and settings.llm.json_mode == "json_schema"
    client = make_llm(settings)
    assert isinstance(client.client, openai.AzureOpenAI) and client.host == "r.openai.azure.com"
