"""The capability probe against the mock, with real servers' discovery replies replayed; when
the stages probe (lazily, once, cached per base URL and model, never for the mock or OpenAI);
what the capabilities change: system messages folded, requests in flight, retries, timeouts."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pipeline.llm import make_llm
from pipeline.llm.capabilities import Capabilities, CapabilityStore, now_iso
from pipeline.llm.mock import MockLLM, MockTransport, Recorder
from pipeline.llm.probe import Prober
from pipeline.settings import load_settings
from pipeline.store.layout import OutDir
from tests.llm.test_quirks import LOCAL, PAPER, Facts, fixture

ROOT_PATHS = (
    "/props",
    "/openapi.json",
    "/api/version",
    "/api/v1/models",
    "/api/v0/models",
    "/api/show",
    "/api/ps",
)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


def settings_for(tmp_path: Path, cache_dir: Path, **llm: Any):
    return load_settings(
        None, out_dir=tmp_path, cache_dir=cache_dir, llm={"provider": "openai", "base_url": LOCAL, **llm}
    )


def llm_for(tmp_path: Path, cache_dir: Path, mock: MockLLM, **llm: Any):
    return make_llm(settings_for(tmp_path, cache_dir, **llm), transport=MockTransport(mock))


def chats(mock: MockLLM) -> int:
    return mock.stats["by_endpoint"].get("chat", 0)


# -- what the probe finds ------------------------------------------------------------------------


def test_probe_of_a_plain_openai_compatible_server(tmp_path, cache_dir) -> None:
    mock = MockLLM()
    caps = llm_for(tmp_path, cache_dir, mock).capabilities()
    assert caps.models == sorted(mock.all_models()) and not caps.known
    assert {m: (c.accepted, c.valid) for m, c in caps.modes.items()} == {
        "json_schema": (True, True),
        "json_object_schema": (True, True),
        "json_object": (True, True),
    }
    assert caps.modes["json_schema"].constrains is True
    assert caps.structured_mode == "json_schema" and caps.system_role is True
    assert caps.tokens_per_second and caps.tokens_per_second > 0
    assert caps.context_window is None and caps.probe_requests >= 8
    saved = json.loads(OutDir(tmp_path).capabilities_path.read_text())
    (record,) = saved["endpoints"].values()
    assert record["base_url"] == LOCAL and record["model"] == "gpt-4o-mini" and record["probed_at"]


@pytest.mark.parametrize(
    ("models", "props", "model"),
    [
        ("observed_models_llama_cpp_python", "observed_props_404_llama_cpp_python", "gemma3-270m.gguf"),
        (
            "context_discovery_llama_cpp_python_models",
            "context_discovery_llama_cpp_python_props_404",
            "gemma-3-270m",
        ),
    ],
)
def test_probe_finds_llama_cpp_python_from_its_own_replies(tmp_path, cache_dir, models, props, model) -> None:
    """GET /models, /props (404), /openapi.json: llama-cpp-python; json_schema answered with
    its HTTP 500; the window read from the error to an over-long prompt; /extras/tokenize/count
    is not needed."""
    mock = MockLLM(models=(model,))
    mock.replay(fixture(models))
    mock.replay(fixture(props))
    mock.replay(fixture("observed_openapi_llama_cpp_python"))
    mock.replay(fixture("observed_response_format_500_llama_cpp_python"))
    mock.replay(fixture("observed_context_length_400_llama_cpp_python"), when=lambda r: len(str(r)) > 100_000)
    mock.replay(fixture("context_discovery_llama_cpp_python_tokenize_count"))
    llm = llm_for(tmp_path, cache_dir, mock, chat_model=model)
    caps = llm.capabilities()
    assert caps.server == "llama-cpp-python 0.3.36" and caps.parallel == 1
    assert caps.models == [model]
    assert caps.modes["json_schema"].accepted is False and "json_schema" in caps.rejected_modes
    assert "Input should be 'text' or 'json_object'" in caps.modes["json_schema"].detail
    assert caps.structured_mode == "json_object_schema", caps
    assert caps.context_window == 512
    assert caps.context_source == "the error to an over-long prompt (context_length_exceeded)"
    assert mock.replayer.pending() == 1  # the tokenize endpoint was never asked
    # what follows from it: one request at a time, one retry, the chain starts at json_object + schema
    assert llm.endpoint.max_in_flight(caps) == 1 and llm.endpoint.retries() == 1
    mock.recorder = Recorder()
    assert llm.complete_json(PAPER, Facts, schema_name="facts").ok
    rf = mock.recorder.requests[0]["response_format"]
    assert rf["type"] == "json_object" and rf["schema"]["required"] == ["title", "keywords"]


def test_probe_reads_llama_server_props_and_models_meta(tmp_path, cache_dir) -> None:
    model = "model/gemma-3-270m-q4_k_m.gguf"
    mock = MockLLM(models=(model,))
    mock.replay(fixture("context_discovery_llama_cpp_server_models"))
    mock.replay(fixture("context_discovery_llama_cpp_server_props"))
    caps = llm_for(tmp_path, cache_dir, mock, chat_model=model).capabilities()
    assert caps.server.startswith("llama.cpp server") and caps.parallel == 1
    assert caps.context_window == 512 and "n_ctx" in caps.context_source


def test_probe_reads_vllm_max_model_len(tmp_path, cache_dir) -> None:
    model = "Qwen/Qwen2.5-7B-Instruct"
    mock = MockLLM(models=(model,))
    mock.replay(fixture("context_discovery_vllm_models"))
    caps = llm_for(tmp_path, cache_dir, mock, chat_model=model).capabilities()
    assert caps.server == "vLLM" and caps.context_window == 32768 and caps.parallel is None


@pytest.mark.parametrize(
    ("name", "model", "window"),
    [
        ("context_discovery_lm_studio_v1", "google/gemma-4-26b-a4b", 4096),  # the loaded size, not the max
        ("context_discovery_lm_studio_v0", "meta-llama-3.1-8b-instruct", 131072),
    ],
)
def test_probe_reads_lm_studio_models(tmp_path, cache_dir, name, model, window) -> None:
    mock = MockLLM(models=(model,))
    mock.replay(fixture(name))
    caps = llm_for(tmp_path, cache_dir, mock, chat_model=model).capabilities()
    assert caps.server == "LM Studio" and caps.context_window == window and caps.parallel == 1


def test_probe_reads_ollama_show_and_ps(tmp_path, cache_dir) -> None:
    """Ollama truncates a prompt longer than num_ctx silently
    (``context_length_200_ollama_truncation``): its window must be known before sending."""
    mock = MockLLM(models=("gemma3:270m",))
    mock.replay({"status": 200, "body": {"version": "0.9.0"}, "request_hint": "GET /api/version"})
    mock.replay(fixture("context_discovery_ollama_show"))
    caps = llm_for(tmp_path, cache_dir, mock, chat_model="gemma3:270m").capabilities()
    assert caps.server == "Ollama 0.9.0" and caps.context_window == 8192  # num_ctx, below the model's 32768
    ps = fixture("context_discovery_ollama_ps")  # loaded with 4096: the smaller one wins
    mock.replay({"status": 200, "body": {"version": "0.9.0"}, "request_hint": "GET /api/version"})
    mock.replay(fixture("context_discovery_ollama_show"))
    mock.replay(ps)
    caps = llm_for(tmp_path, cache_dir, mock, chat_model="gemma3:270m").capabilities(refresh=True)
    assert caps.context_window == 4096


def test_probe_sees_that_system_messages_are_dropped(tmp_path, cache_dir) -> None:
    """llama-cpp-python's gemma format: the same prompt_tokens with and without a system
    message.  The client then folds the system prompt into the first user message."""
    mock = MockLLM(recorder=Recorder())
    dropped = fixture("observed_system_message_dropped_llama_cpp_python")
    mock.replay(dropped, times=2)
    llm = llm_for(tmp_path, cache_dir, mock, probe=False)
    caps = Capabilities(base_url=LOCAL, model="gpt-4o-mini")
    Prober(llm.client, caps, timeout=10).system_role()
    assert (
        caps.system_role is False
        and "prompt_tokens 10 without a system message, 10 with one" in caps.system_role_detail
    )
    CapabilityStore(OutDir(tmp_path).capabilities_path).put(caps.model_copy(update={"probed_at": now_iso()}))
    llm = llm_for(tmp_path, cache_dir, mock)
    llm.complete(PAPER)
    sent = mock.recorder.requests[-1]["messages"]
    assert [m["role"] for m in sent] == ["user"]
    assert sent[0]["content"].startswith(PAPER[0]["content"]) and sent[0]["content"].endswith(
        PAPER[1]["content"]
    )


def test_an_unknown_model_stops_the_probe_naming_the_served_models(tmp_path, cache_dir) -> None:
    from pipeline.errors import ConfigError

    with pytest.raises(ConfigError, match=r"unknown model 'gpt-9'.*it serves: .*gpt-4o-mini"):
        llm_for(tmp_path, cache_dir, MockLLM(), chat_model="gpt-9").capabilities()


# -- when the probe runs -----------------------------------------------------------------------


def test_the_probe_runs_lazily_once_and_is_cached_per_url_and_model(tmp_path, cache_dir) -> None:
    mock = MockLLM()
    llm = llm_for(tmp_path, cache_dir, mock)
    assert mock.stats["total"] == 0  # building the client asks nothing
    threads = [
        threading.Thread(target=llm.complete_json, args=(PAPER, Facts), kwargs={"schema_name": "f"})
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    probe_chats = chats(mock) - 4
    assert 5 <= probe_chats <= 8  # one probe for four concurrent first requests
    assert llm.meter.snapshot()["requests"] == 4  # the probe is not the stage's spending
    # a new process (same output folder): the cache answers, no probe
    again = MockLLM()
    assert llm_for(tmp_path, cache_dir, again).complete_json(PAPER, Facts, schema_name="f").ok
    assert chats(again) == 1 and again.stats["by_endpoint"].get("models", 0) == 0
    # another model at the same URL is another endpoint
    other = MockLLM()
    llm_for(tmp_path, cache_dir, other, chat_model="gpt-4o").complete_json(PAPER, Facts, schema_name="f")
    assert chats(other) > 1
    assert len(json.loads(OutDir(tmp_path).capabilities_path.read_text())["endpoints"]) == 2


def test_the_probe_is_redone_after_max_age_days(tmp_path, cache_dir) -> None:
    old = (datetime.now(UTC) - timedelta(days=8)).isoformat(timespec="seconds")
    store = CapabilityStore(OutDir(tmp_path).capabilities_path)
    store.put(Capabilities(base_url=LOCAL, model="gpt-4o-mini", probed_at=old, structured_mode="text"))
    mock = MockLLM()
    caps = llm_for(tmp_path, cache_dir, mock).capabilities()
    assert caps.structured_mode == "json_schema" and chats(mock) > 1
    store.put(Capabilities(base_url=LOCAL, model="gpt-4o-mini", probed_at=old, structured_mode="text"))
    mock = MockLLM()
    caps = llm_for(tmp_path, cache_dir, mock, capabilities_max_age_days=30).capabilities()
    assert caps.structured_mode == "text" and chats(mock) == 0


@pytest.mark.parametrize(
    "llm", [{"provider": "mock"}, {"provider": "openai", "api_key": "sk-0123456789abcdef"}]
)
def test_the_mock_and_openai_are_known_and_never_probed(tmp_path, cache_dir, llm) -> None:
    mock = MockLLM()
    settings = load_settings(None, out_dir=tmp_path, cache_dir=cache_dir, llm=llm)
    client = make_llm(
        settings, **({"mock": mock} if llm["provider"] == "mock" else {"transport": MockTransport(mock)})
    )
    assert client.complete_json(PAPER, Facts, schema_name="f").ok
    assert mock.stats["total"] == 1 and client.capabilities().known
    assert not OutDir(tmp_path).capabilities_path.exists()


def test_llm_probe_false_asks_nothing_and_starts_at_json_schema(tmp_path, cache_dir) -> None:
    mock = MockLLM()
    llm = llm_for(tmp_path, cache_dir, mock, probe=False)
    assert llm.complete_json(PAPER, Facts, schema_name="f").ok and mock.stats["total"] == 1


# -- timeouts and requests in flight -------------------------------------------------------------


def test_the_timeout_grows_with_max_tokens_and_the_measured_speed(tmp_path, cache_dir) -> None:
    local = llm_for(tmp_path, cache_dir, MockLLM(), probe=False, timeout=30, max_timeout=600)
    local.capabilities()
    assert local.local and local.request_timeout(300) == 30 + 300 / 3.0  # local, nothing measured: 3 tok/s
    caps = local.capabilities()
    caps.tokens_per_second, caps.structured_tokens_per_second = 8.0, 4.0
    assert local.request_timeout(400, structured=True) == 30 + 400 / 2.0  # half the measured speed
    assert local.request_timeout(400) == 30 + 400 / 4.0
    assert local.request_timeout(100_000) == 600  # capped
    remote = llm_for(
        tmp_path, cache_dir, MockLLM(), probe=False, timeout=30, base_url="https://api.example.com/v1",
        api_key="sk-0123456789abcdef",
    )  # fmt: skip
    remote.capabilities()
    assert not remote.local and remote.request_timeout(300) == 30 + 300 / 30.0
    fixed = llm_for(tmp_path, cache_dir, MockLLM(), probe=False, timeout=30, tokens_per_second=10)
    assert fixed.request_timeout(400, structured=True) == 70


def test_the_timeout_is_sent_with_each_request(tmp_path, cache_dir) -> None:
    seen: list[str] = []

    class Spy(MockTransport):
        def handle_request(self, request):
            seen.append(request.headers.get("x-stainless-read-timeout", ""))
            return super().handle_request(request)

    settings = settings_for(tmp_path, cache_dir, probe=False, timeout=20, tokens_per_second=10)
    llm = make_llm(settings, transport=Spy(MockLLM()))
    llm.complete(PAPER, max_tokens=100)
    llm.complete(PAPER, max_tokens=1000)
    assert [float(s) for s in seen] == [30.0, 120.0]


def test_max_tokens_fits_the_context_window(tmp_path, cache_dir) -> None:
    mock = MockLLM(recorder=Recorder())
    llm = llm_for(tmp_path, cache_dir, mock, probe=False)
    llm.capabilities().context_window = 600
    llm.complete(PAPER, max_tokens=800)  # the window holds more than half of it: cut to fit
    assert 450 < mock.recorder.requests[0]["max_tokens"] < 600


def test_a_one_at_a_time_server_gets_one_request_at_a_time(tmp_path, cache_dir) -> None:
    mock = MockLLM("latency_ms=150", recorder=Recorder())
    store = CapabilityStore(OutDir(tmp_path).capabilities_path)
    store.put(Capabilities(base_url=LOCAL, model="gpt-4o-mini", probed_at=now_iso(), parallel=1))
    llm = llm_for(tmp_path, cache_dir, mock)
    assert llm.settings.concurrency == 4 and llm.endpoint.retries() == 5  # not yet known
    t0 = time.monotonic()
    threads = [threading.Thread(target=llm.complete, args=(PAPER,)) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert time.monotonic() - t0 >= 0.45  # three in a row, not together
    assert llm.endpoint.retries() == 1
    explicit = llm_for(tmp_path, cache_dir, MockLLM(), concurrency=3, max_retries=4)
    caps = explicit.capabilities()
    assert explicit.endpoint.max_in_flight(caps) == 3 and explicit.endpoint.retries() == 4


def test_the_servers_tokens_per_ours_are_learnt_and_used(tmp_path, cache_dir) -> None:
    """Gemma's tokenizer spends about twice tiktoken's tokens on Korean: the ratio seen on a
    real request sizes max_tokens (and the batches doctor recommends) from then on."""
    mock = MockLLM(recorder=Recorder())
    store = CapabilityStore(OutDir(tmp_path).capabilities_path)
    store.put(Capabilities(base_url=LOCAL, model="gpt-4o-mini", probed_at=now_iso(), context_window=4096))
    llm = llm_for(tmp_path, cache_dir, mock)
    korean = [{"role": "user", "content": "대규모 언어 모델은 자연어 처리에서 놀라운 성과를 보여준다. " * 20}]
    estimate = llm.endpoint.fit_output(korean, 10)[1]
    reply = fixture("observed_json_object_schema_valid_llama_cpp_python")
    reply["body"]["usage"]["prompt_tokens"] = estimate * 2
    mock.replay(reply)
    llm.complete(korean, max_tokens=4000)
    first = mock.recorder.requests[0]["max_tokens"]
    assert first == 4096 - estimate
    caps = llm.capabilities()
    assert caps.token_ratio == 2.0 and store.get(LOCAL, "gpt-4o-mini").token_ratio == 2.0
    llm.complete(korean, max_tokens=4000)
    assert mock.recorder.requests[1]["max_tokens"] == 4096 - 2 * estimate
    assert caps.batch_tokens() == 500  # (4096 / 2 - 900) / 2.2, in fifties


def test_the_only_served_model_comes_from_the_cache_without_a_request(tmp_path) -> None:
    from pipeline.cli.options import build_settings

    url = "http://127.0.0.1:9/v1"  # nothing listens: only the cache can answer
    store = CapabilityStore(OutDir(tmp_path).capabilities_path)
    store.put(Capabilities(base_url=url, model="gpt-4o-mini", probed_at=now_iso(), models=["gemma3-270m"]))
    settings = build_settings(out_dir=tmp_path, llm_provider="openai", base_url=url)
    assert settings.llm.chat_model == "gemma3-270m"
    several = CapabilityStore(OutDir(tmp_path / "b").capabilities_path)
    several.put(Capabilities(base_url=url, model="x", probed_at=now_iso(), models=["qwen", "llama"]))
    assert (
        build_settings(out_dir=tmp_path / "b", llm_provider="openai", base_url=url).llm.chat_model
        == "gpt-4o-mini"
    )


def test_a_request_the_window_cannot_hold_is_not_sent(tmp_path, cache_dir) -> None:
    """The window known, a prompt that leaves no room (or less than half the reply the caller
    expects) is a ContextLengthError before any request: the stage splits, instead of a
    reply cut to a few tokens after minutes, or Ollama silently dropping the prompt's start."""
    from pipeline.errors import ContextLengthError

    mock = MockLLM(recorder=Recorder())
    llm = llm_for(tmp_path, cache_dir, mock, probe=False)
    caps = llm.capabilities()
    caps.context_window, caps.context_source = 600, "a test"
    long = [{"role": "user", "content": "word " * 700}]
    with pytest.raises(
        ContextLengthError, match=r"does not fit the context window of 127.0.0.1:9 \(600 tokens"
    ) as err:
        llm.complete(long)
    assert err.value.context_window == 600
    with pytest.raises(ContextLengthError):
        llm.complete_json(PAPER, Facts, schema_name="f", max_tokens=1200)  # room ~560 < 600 expected
    assert len(mock.recorder) == 0
    assert llm.complete_json(PAPER, Facts, schema_name="f", max_tokens=400).ok
    assert mock.recorder.requests[0]["max_tokens"] == 400


def test_a_reask_that_would_overflow_the_window_goes_without_the_previous_reply(tmp_path, cache_dir) -> None:
    """A long unusable reply fills a small window: re-asking with it attached cannot fit, so
    the re-ask names the problem without it (instead of failing the request)."""
    from tests.llm.test_quirks import fixture

    fx = fixture("json_object_schema_fallback_200_llama_cpp_python")
    long_reply = json.dumps({"notes": "word " * 600})
    fx["body"]["choices"][0].update(
        finish_reason="stop", message={"role": "assistant", "content": long_reply}
    )
    mock = MockLLM(recorder=Recorder())
    mock.replay(fx)
    llm = llm_for(tmp_path, cache_dir, mock, probe=False)
    caps = llm.capabilities()
    caps.context_window = 600
    res = llm.complete_json(PAPER, Facts, schema_name="f", max_tokens=200)
    assert caps.token_ratio is None  # the replayed reply's usage is not taken as this prompt's
    assert res.ok and res.attempts == 2
    reask = mock.recorder.requests[1]["messages"]
    assert all("word word" not in str(m["content"]) for m in reask)
    assert "could not be used" in reask[-1]["content"]
