"""The mock's replay fault: recorded replies of real servers, by request, in order."""

from __future__ import annotations

import json

import pytest

from pipeline.errors import ConfigError
from pipeline.llm.mock import MockLLM
from tests.paths import FIXTURES

QUIRKS = FIXTURES / "quirks"
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


def _call(mock: MockLLM, method: str = "POST", path: str = "/v1/chat/completions", body: dict | None = None):
    status, headers, payload = mock.handle(method, path, {}, json.dumps(body or CHAT).encode())
    return status, headers, payload


def test_replay_from_the_fault_spec_answers_the_next_requests_in_order() -> None:
    a, b = QUIRKS / "response_format_500_llama_cpp_python.json", QUIRKS / "context_length_400_vllm.json"
    mock = MockLLM(f"replay={a}+{b}")
    status, headers, payload = _call(mock)
    assert status == 500 and "response_format" in json.loads(payload)["error"]["message"]
    assert headers["server"] == "uvicorn"
    assert _call(mock)[0] == 400
    assert _call(mock)[0] == 200  # then the mock itself
    assert mock.stats["faults"] == {"replay": 2}


def test_replay_targets_the_request_of_its_hint_and_times() -> None:
    mock = MockLLM()
    mock.replay(QUIRKS / "context_discovery_llama_cpp_server_props.json", times=2)
    assert _call(mock)[0] == 200 and mock.replayer.pending() == 2  # a chat request is not GET /props
    for _ in range(2):
        status, _, payload = _call(mock, "GET", "/props")
        assert status == 200 and json.loads(payload)["total_slots"] == 1
    assert _call(mock, "GET", "/props")[0] == 404


def test_replay_of_a_stream_and_a_predicate() -> None:
    mock = MockLLM()
    mock.replay(QUIRKS / "vllm_midstream_error.json", when=lambda req: req.get("stream") is True)
    assert _call(mock)[0] == 200 and mock.replayer.pending() == 1
    status, headers, payload = _call(mock, body={**CHAT, "stream": True})
    assert headers["content-type"] == "text/event-stream" and b'"error"' in payload


def test_a_fixture_without_a_status_cannot_be_replayed() -> None:
    with pytest.raises(ConfigError, match="not a replayable fixture"):
        MockLLM(f"replay={QUIRKS / 'gguf_package_gemma3_270m.json'}")
    with pytest.raises(ConfigError, match="cannot read the replay fixture"):
        MockLLM("replay=/nonexistent.json")
