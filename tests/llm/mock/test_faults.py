"""Fault injection of the mock: spec parsing, determinism, and each fault on the wire."""

from __future__ import annotations

import json

import pytest

from pipeline.errors import ConfigError
from pipeline.llm.mock import MockLLM, MockTimeout
from pipeline.llm.mock.faults import FaultPlan, parse_fault_spec

TRANSLATE = {
    "model": "gpt-4o-mini",
    "messages": [
        {"role": "user", "content": '<segment id="a">새로운 방법을 7B 모델에 적용합니다.</segment>'}
    ],
    "response_format": {"type": "json_object"},
}


def _post(mock: MockLLM, body: dict, path: str = "/v1/chat/completions"):
    status, headers, payload = mock.handle(
        "POST", path, {"content-type": "application/json"}, json.dumps(body).encode()
    )
    return (
        status,
        headers,
        json.loads(payload) if headers.get("content-type") == "application/json" else payload,
    )


def test_parse_spec() -> None:
    plan = parse_fault_spec(
        "rate=0.3,kinds=429+500+timeout+malformed+truncate+korean,latency_ms=200,seed=7,"
        "retry_after_ms=20,batch_fail_ids=a+b"
    )
    assert plan == FaultPlan(
        rate=0.3,
        kinds=("429", "500", "timeout", "malformed", "truncate", "korean"),
        latency_ms=200,
        seed=7,
        retry_after_ms=20,
        batch_fail_ids=("a", "b"),
    )
    assert parse_fault_spec("") == FaultPlan()
    for bad in ("rate=2", "kinds=429+explode", "speed=3", "rate", "seed=x"):
        with pytest.raises(ConfigError):
            parse_fault_spec(bad)


def test_rate_is_deterministic_and_roughly_right() -> None:
    def draw(seed: int) -> list[str | None]:
        mock = MockLLM(f"rate=0.3,kinds=malformed+truncate+korean,seed={seed}")
        out = []
        for i in range(200):
            body = {
                **TRANSLATE,
                "messages": [{"role": "user", "content": f'<segment id="{i}">문장 {i}</segment>'}],
            }
            _, _, payload = _post(mock, body)
            choice = payload["choices"][0]
            out.append(
                None
                if choice["finish_reason"] == "stop"
                and _is_json(choice["message"]["content"])
                and "문장" not in choice["message"]["content"]
                else "fault"
            )
        return out

    a, b, c = draw(7), draw(7), draw(8)
    assert a == b and a != c
    assert 40 <= a.count("fault") <= 80


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except json.JSONDecodeError:
        return False
    return True


def test_each_fault_on_the_wire() -> None:
    mock = MockLLM("retry_after_ms=15")
    mock.script(["429", "500", "timeout", "malformed", "truncate", "korean", "refusal", "ok"])
    status, headers, body = _post(mock, TRANSLATE)
    assert (
        status == 429 and headers["retry-after-ms"] == "15" and body["error"]["code"] == "rate_limit_exceeded"
    )
    status, headers, body = _post(mock, TRANSLATE)
    assert status == 500 and body["error"]["type"] == "server_error"
    with pytest.raises(MockTimeout):
        _post(mock, TRANSLATE)
    _, _, body = _post(mock, TRANSLATE)
    assert not _is_json(body["choices"][0]["message"]["content"])
    _, _, body = _post(mock, TRANSLATE)
    assert body["choices"][0]["finish_reason"] == "length" and not _is_json(
        body["choices"][0]["message"]["content"]
    )
    _, _, body = _post(mock, TRANSLATE)
    assert "새로운" in json.loads(body["choices"][0]["message"]["content"])["translations"][0]["text"]
    _, _, body = _post(mock, TRANSLATE)
    assert body["choices"][0]["message"]["content"] is None and body["choices"][0]["message"]["refusal"]
    _, _, body = _post(mock, TRANSLATE)
    assert json.loads(body["choices"][0]["message"]["content"])["translations"][0]["text"].startswith(
        "new method"
    )
    assert mock.stats["faults"] == {
        k: 1 for k in ("429", "500", "timeout", "malformed", "truncate", "korean", "refusal")
    }
    assert mock.stats["by_task"] == {"translate": 5}


def test_faults_spare_other_endpoints_and_models_404() -> None:
    mock = MockLLM("rate=1,kinds=500")
    status, _, body = _post(mock, {"model": "text-embedding-3-small", "input": ["a b c"]}, "/v1/embeddings")
    assert status == 200 and len(body["data"][0]["embedding"]) == 384
    status, _, body = _post(mock, {**TRANSLATE, "model": "gpt-nope"})
    assert status == 404 and body["error"]["code"] == "model_not_found"
    assert mock.stats["faults"] == {}
    mock.reset_stats()
    assert mock.stats["total"] == 0
    with pytest.raises(ValueError):
        mock.script(["explode"])
