"""The mock behind a real port: serve(), the `digest mock-llm` command, key hygiene."""

from __future__ import annotations

import json
import logging
import subprocess
import urllib.request
from pathlib import Path

import pytest

from pipeline.errors import ConfigError
from pipeline.llm import make_llm
from pipeline.llm.mock import MockLLM
from pipeline.llm.mock.http import serve
from pipeline.settings import load_settings
from tests.paths import ROOT

DIGEST = ROOT / ".venv" / "bin" / "digest"
QA = [
    {"role": "system", "content": "<refusal>Nothing on that.</refusal>"},
    {
        "role": "user",
        "content": '<source id="2410.13618">LoLDU tunes 0.00025% of parameters.</source>'
        "<question>What fraction of parameters does LoLDU tune?</question>",
    },
]

pytestmark = pytest.mark.slow


def _settings(tmp_path: Path, url: str, **llm: object):
    return load_settings(
        None, out_dir=tmp_path, cache_dir=tmp_path / "cache", llm={"provider": "mock", "base_url": url, **llm}
    )


def test_serve_end_to_end_with_retries(tmp_path: Path) -> None:
    mock = MockLLM("retry_after_ms=5")
    with serve(mock=mock) as server:
        assert server.url.startswith("http://127.0.0.1:")
        llm = make_llm(_settings(tmp_path, server.url, max_retries=3))
        mock.script(["timeout", "429", "ok"])  # timeout = dropped connection in server mode
        assert llm.complete(QA).text.endswith("[2410.13618]")
        assert "".join(llm.stream(QA)).endswith("[2410.13618]")
        with urllib.request.urlopen(server.url + "/mock/stats") as resp:
            stats = json.load(resp)
        assert stats["by_endpoint"]["chat"] == 4
        snap = llm.meter.snapshot()
        assert snap["retries"] == 2 and snap["timeouts"] == 1 and snap["requests"] == 2


def test_rejected_key_never_leaks(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    key = "sk-proj-SECRETsecret0123456789abcdef"
    with serve(mock=MockLLM(api_key="the-right-key")) as server:
        settings = load_settings(
            None,
            out_dir=tmp_path,
            cache_dir=tmp_path / "cache",
            llm={"provider": "openai", "base_url": server.url, "api_key": key},
        )
        caplog.set_level(logging.DEBUG)
        with pytest.raises(ConfigError, match="rejected the API key") as err:
            make_llm(settings).complete(QA)
    assert key not in str(err.value) and key not in repr(err.value)
    assert err.value.__cause__ is None and err.value.__suppress_context__
    assert key not in caplog.text


def test_digest_mock_llm_command(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [str(DIGEST), "mock-llm", "--port", "0", "--out", str(tmp_path), "--faults", "seed=1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    try:
        line = proc.stdout.readline()
        assert "listening on http://127.0.0.1:" in line, (
            proc.stderr.read() if proc.poll() is not None else line
        )
        url = line.split("listening on ", 1)[1].split()[0]
        llm = make_llm(_settings(tmp_path, url))
        assert llm.complete(QA).text.endswith("[2410.13618]")
        assert "mock-chat" in llm.list_models()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_responses_are_not_held_back_by_nagles_algorithm() -> None:
    """Headers and body are separate writes: without TCP_NODELAY each response on a kept-alive
    connection waits for the client's delayed ACK (40 ms a request, measured)."""
    from pipeline.serve.handler import Handler as ServeHandler

    with serve() as srv:
        assert srv.httpd.RequestHandlerClass.disable_nagle_algorithm is True
    assert ServeHandler.disable_nagle_algorithm is True
