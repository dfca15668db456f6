"""The compatibility suite: the whole CLI against a REAL local LLM server.

Every test here gets the ``compat`` marker (and ``slow``: a model answers in seconds, not
milliseconds).  The server (llama.cpp's, from ``./setup.sh``) is started once per session
on a free loopback port and killed at the end.  Without it the suite is skipped with the
reason, unless ``DIGEST_COMPAT_REQUIRED=1`` (set by ``.ci/run``): then a missing or broken
server fails the run.

``DIGEST_COMPAT_BASE_URL=http://127.0.0.1:11434/v1`` runs the suite against a server that is
already running instead (Ollama, vLLM, LM Studio, ...; no key is sent).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from .llama_server import ServerError, find_installation, llama_server

HERE = Path(__file__).resolve().parent
COMPAT_TEST_TIMEOUT = 1200

# read at import, before the autouse fixture of tests/conftest.py clears DIGEST_* variables
REQUIRED = os.environ.get("DIGEST_COMPAT_REQUIRED", "") not in ("", "0")
EXTERNAL_URL = os.environ.get("DIGEST_COMPAT_BASE_URL", "").rstrip("/")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.compat)
            item.add_marker(pytest.mark.slow)
            # pytest-timeout counts fixture set-up: the first test also waits for the server
            # and the first run (each command has its own, shorter bound in cli.digest)
            item.add_marker(pytest.mark.timeout(COMPAT_TEST_TIMEOUT))


@pytest.fixture(scope="session")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL (``.../v1``) of the real server: llama.cpp with the recommended flags, its
    log in the session's tmp dir; or ``DIGEST_COMPAT_BASE_URL``."""
    if EXTERNAL_URL:
        yield EXTERNAL_URL
        return
    inst, why = find_installation()
    if inst is None:
        if REQUIRED:
            pytest.fail(f"DIGEST_COMPAT_REQUIRED is set but {why}", pytrace=False)
        pytest.skip(why)
    log_path = tmp_path_factory.mktemp("llama-server") / "server.log"
    try:
        with llama_server(inst, log_path) as server:
            yield server.base_url
    except ServerError as exc:
        pytest.fail(str(exc), pytrace=False)
