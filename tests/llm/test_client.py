"""The LLM client through the real openai SDK against the in-process mock."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from pipeline.errors import ConfigError, LLMError
from pipeline.llm import make_llm
from pipeline.llm.mock import MockLLM
from pipeline.settings import load_settings

SOURCES = (
    '<source id="2410.13618">LoLDU fine-tunes with only 0.00025% of the parameters. '
    "It keeps the pretrained knowledge.</source>"
    '<source id="2410.10210">Minimum tuning reaches LongWriter quality with 3.74% of the data.</source>'
)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


def _settings(tmp_path: Path, cache_dir: Path, **llm: object):
    return load_settings(None, out_dir=tmp_path, cache_dir=cache_dir, llm={"provider": "mock", **llm})


def _qa(question: str) -> list[dict]:
    return [
        {"role": "system", "content": "Answer from the sources. <refusal>Not in the digests.</refusal>"},
        {"role": "user", "content": f"{SOURCES}\n<question>{question}</question>"},
    ]


def test_complete_counts_usage_like_the_server(tmp_path: Path, cache_dir: Path) -> None:
    mock = MockLLM()
    llm = make_llm(_settings(tmp_path, cache_dir), mock=mock)
    comp = llm.complete(_qa("What share of parameters does LoLDU tune?"))
    assert comp.text.endswith("[2410.13618]")
    assert comp.finish_reason == "stop"
    assert comp.prompt_tokens > 20 and comp.completion_tokens > 5
    snap = llm.meter.snapshot()
    assert snap["requests"] == 1
    assert snap["prompt_tokens"] == mock.stats["prompt_tokens"] == comp.prompt_tokens
    assert snap["completion_tokens"] == mock.stats["completion_tokens"]
    assert snap["http_status_counts"] == {"200": 1} and snap["retries"] == 0


@pytest.mark.parametrize("fault", ["429", "500", "timeout"])
def test_sdk_retries_transient_faults(tmp_path: Path, cache_dir: Path, fault: str) -> None:
    mock = MockLLM()
    llm = make_llm(_settings(tmp_path, cache_dir, max_retries=3), mock=mock)
    mock.script([fault, fault, "ok"])
    comp = llm.complete(_qa("What share of parameters does LoLDU tune?"))
    assert "[2410.13618]" in comp.text
    assert mock.stats["by_endpoint"]["chat"] == 3  # two failures, then the retry that worked
    snap = llm.meter.snapshot()
    assert snap["retries"] == 2 and snap["requests"] == 1
    if fault == "timeout":
        assert snap["timeouts"] == 2 and snap["http_status_counts"] == {"200": 1}
    else:
        assert snap["http_status_counts"] == {fault: 2, "200": 1}


def test_retries_exhausted_raise_clean_llm_error(tmp_path: Path, cache_dir: Path) -> None:
    mock = MockLLM("rate=1,kinds=429,retry_after_ms=1")
    llm = make_llm(_settings(tmp_path, cache_dir, max_retries=2), mock=mock)
    with pytest.raises(LLMError, match="HTTP 429") as err:
        llm.complete(_qa("LoLDU?"))
    assert mock.stats["by_endpoint"]["chat"] == 3
    assert "mock-llm.invalid" in str(err.value)


def test_faults_from_settings_reach_the_default_mock(tmp_path: Path, cache_dir: Path) -> None:
    settings = _settings(tmp_path, cache_dir, max_retries=0, mock_faults="rate=1,kinds=500,retry_after_ms=1")
    with pytest.raises(LLMError, match="HTTP 500"):
        make_llm(settings).complete(_qa("LoLDU?"))


def test_unknown_model_is_a_config_error(tmp_path: Path, cache_dir: Path) -> None:
    llm = make_llm(_settings(tmp_path, cache_dir, chat_model="gpt-9-imaginary"), mock=MockLLM())
    with pytest.raises(ConfigError, match="unknown model 'gpt-9-imaginary' at mock-llm.invalid"):
        llm.complete([{"role": "user", "content": "hi"}])
    with pytest.raises(ConfigError, match="unknown model 'nope-embed'"):
        llm.embed(["x"], model="nope-embed")


def test_missing_key_for_remote_url(tmp_path: Path, cache_dir: Path) -> None:
    with pytest.raises(ConfigError, match="no API key for api.example.com"):
        make_llm(_settings(tmp_path, cache_dir, provider="openai", base_url="https://api.example.com/v1"))
    with pytest.raises(ConfigError, match="no API key"):
        make_llm(_settings(tmp_path, cache_dir, provider="openai"))
    # Local servers (Ollama, vLLM, llama.cpp) need no key.
    for url in ("http://localhost:11434/v1", "http://127.0.0.1:8080/v1", "http://[::1]:8000/v1"):
        assert make_llm(_settings(tmp_path, cache_dir, provider="openai", base_url=url)).base_url == url


def test_unreachable_endpoint_names_host_not_key(tmp_path: Path, cache_dir: Path) -> None:
    import socket

    with socket.socket() as s:  # a port that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    key = "sk-unreachable-secret-0123456789"
    settings = _settings(
        tmp_path,
        cache_dir,
        provider="openai",
        base_url=f"http://127.0.0.1:{port}/v1",
        api_key=key,
        max_retries=0,
    )
    with pytest.raises(LLMError) as err:
        make_llm(settings).complete([{"role": "user", "content": "hi"}])
    assert f"127.0.0.1:{port}" in str(err.value) and key not in str(err.value)


def test_stream_yields_the_same_text_and_counts_usage(tmp_path: Path, cache_dir: Path) -> None:
    mock = MockLLM()
    llm = make_llm(_settings(tmp_path, cache_dir), mock=mock)
    whole = llm.complete(_qa("What share of parameters does LoLDU tune?")).text
    pieces = list(llm.stream(_qa("What share of parameters does LoLDU tune?")))
    assert len(pieces) > 1 and "".join(pieces) == whole
    snap = llm.meter.snapshot()
    assert snap["requests"] == 2 and snap["completion_tokens"] == mock.stats["completion_tokens"]


def test_embeddings_are_normalised_and_similar_texts_are_near(tmp_path: Path, cache_dir: Path) -> None:
    llm = make_llm(_settings(tmp_path, cache_dir), mock=MockLLM())
    a, b, c = llm.embed(
        [
            "LoRA low-rank adaptation for parameter-efficient fine-tuning",
            "parameter-efficient fine-tuning with low-rank adaptation",
            "a speech dataset for Korean weather reports",
        ]
    )
    assert len(a) == 384 and math.isclose(sum(x * x for x in a), 1.0, rel_tol=1e-5)
    dot = lambda u, v: sum(x * y for x, y in zip(u, v, strict=True))  # noqa: E731
    assert dot(a, b) > 0.5 > dot(a, c)
    assert llm.embed(["LoRA low-rank adaptation for parameter-efficient fine-tuning"])[0] == pytest.approx(a)


def test_list_models_and_shared_instance_across_threads(tmp_path: Path, cache_dir: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    mock = MockLLM("rate=0.3,kinds=429+500,seed=3,retry_after_ms=1")
    llm = make_llm(_settings(tmp_path, cache_dir, max_retries=8), mock=mock)
    assert {"gpt-4o-mini", "text-embedding-3-small", "mock-chat"} <= set(llm.list_models())
    questions = [f"Does LoLDU use {n} parameters?" for n in range(12)]
    with ThreadPoolExecutor(4) as pool:
        texts = [c.text for c in pool.map(lambda q: llm.complete(_qa(q)), questions)]
    assert all("[2410.13618]" in t for t in texts)
    snap = llm.meter.snapshot()
    faults = sum(mock.stats["faults"].values())
    assert faults > 0 and snap["retries"] == faults
    assert snap["requests"] == 13  # 12 completions + models.list
    assert mock.stats["by_endpoint"]["chat"] == 12 + faults


def test_models_command_is_a_quick_check_without_the_full_retries(tmp_path: Path) -> None:
    """`digest models` against an endpoint that keeps failing gives up after one retry."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from click.testing import CliRunner

    from pipeline.cli import main

    hits: list[str] = []

    class Failing(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            hits.append(self.path)
            self.send_response(503)
            self.send_header("Content-Type", "application/json")
            self.send_header("Retry-After", "0")
            self.end_headers()
            self.wfile.write(b'{"error": {"message": "down"}}')

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Failing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/v1"
        res = CliRunner().invoke(main, ["models", "--base-url", url, "--out", str(tmp_path)])
    finally:
        server.shutdown()
        server.server_close()
    assert res.exit_code == 4 and "HTTP 503" in res.output and "Traceback" not in res.output
    assert len(hits) == 2  # one request + one retry (llm.max_retries is 5 for the stages)
