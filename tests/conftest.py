from __future__ import annotations

from pathlib import Path

import pytest

from tests.paths import FIXTURES, SEEDS


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture
def seeds_dir() -> Path:
    return SEEDS


@pytest.fixture
def shipped_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    """Use the default translation memory (the samples' reviewed English), as a user would."""
    monkeypatch.delenv("DIGEST_TRANSLATE__MEMORY_FILES", raising=False)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """No test sees the developer's keys, endpoints or config files, nor touches the real
    user dir (~/.config/digest: config.toml, keys, logs, history) or a .env file."""
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "DIGEST_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    import os

    for var in list(os.environ):
        if var.startswith("DIGEST_"):
            monkeypatch.delenv(var, raising=False)
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("DIGEST_USER_DIR", str(home / "digest-user"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "xdg-config"))  # subprocesses that drop DIGEST_*
    monkeypatch.setenv("DIGEST_ENV_FILE", "")  # no ./.env
    # the shipped translation memory (seeds/memory.jsonl) covers every seed section, and the
    # fixtures are cut from the seeds: a test sees it only when it asks for it (``shipped_memory``)
    monkeypatch.setenv("DIGEST_TRANSLATE__MEMORY_FILES", "[]")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
