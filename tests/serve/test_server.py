"""Loopback by default; the settings fingerprint that decides whether the CLI uses a server."""

from __future__ import annotations

import logging

import pytest

from pipeline.errors import ConfigError
from pipeline.serve.discovery import settings_fingerprint
from pipeline.serve.server import check_host, is_loopback
from pipeline.settings import load_settings


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost", "LOCALHOST"])
def test_loopback_hosts(host):
    assert is_loopback(host)
    check_host(host, allow_remote=False)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "example.com", ""])
def test_other_hosts_need_allow_remote(host, caplog):
    assert not is_loopback(host)
    with pytest.raises(ConfigError, match="--allow-remote"):
        check_host(host, allow_remote=False)
    with caplog.at_level(logging.WARNING):
        check_host(host, allow_remote=True)
    assert "no authentication" in caplog.text


def test_the_default_host_is_loopback():
    assert load_settings().serve.host == "127.0.0.1"


def test_fingerprint_follows_what_results_depend_on(tmp_path):
    base = load_settings(out_dir=tmp_path)
    same = load_settings(out_dir=tmp_path, ask={"language": "ko", "k": 3}, serve={"port": 1})
    assert settings_fingerprint(base) == settings_fingerprint(same)  # per-request options
    for other in (
        load_settings(out_dir=tmp_path / "other"),
        load_settings(out_dir=tmp_path, search={"rrf_k": 30}),
        load_settings(out_dir=tmp_path, llm={"chat_model": "other-model"}),
        load_settings(out_dir=tmp_path, index={"embedding": "endpoint"}),
    ):
        assert settings_fingerprint(other) != settings_fingerprint(base)
    secret = load_settings(out_dir=tmp_path, llm={"api_key": "sk-secretsecretsecret"})
    assert settings_fingerprint(secret) == settings_fingerprint(base)  # keys play no part
