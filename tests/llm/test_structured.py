"""complete_json: strict schemas, json_schema / json_object / auto modes, re-asks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import pytest
from pydantic import BaseModel, Field

from pipeline.errors import ConfigError, ContextLengthError
from pipeline.llm import make_llm, strict_json_schema
from pipeline.llm.mock import MockLLM, Recorder
from pipeline.records import KeyResult, Metadata
from pipeline.settings import load_settings


class Seg(BaseModel):
    id: str
    text: str


class Translations(BaseModel):
    translations: list[Seg]


class PaperFacts(BaseModel):
    tldr: str
    topic: Literal["language", "vision", "speech", "other"]
    methods: list[str]
    key_results: list[KeyResult]
    venue: str | None = None


def recording_mock(**kw) -> MockLLM:
    """The mock with its request recorder, so tests can look at the wire."""
    return MockLLM(recorder=Recorder(), **kw)


TRANSLATE = [
    {"role": "system", "content": "Translate each segment to English."},
    {"role": "user", "content": '<segment id="s1">LoLDU는 0.00025%의 파라미터만 사용합니다.</segment>'},
]
PAPER = [
    {"role": "system", "content": "Extract metadata."},
    {
        "role": "user",
        "content": '<paper id="2410.13618">Title: LoLDU: Low-Rank Adaptation\nLoLDU는 LLaMA2-7B 언어 모델에서 '
        "0.00025%의 파라미터로 미세 조정합니다. GLUE에서 평가했습니다.</paper>",
    },
]


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


def _llm(tmp_path: Path, cache_dir: Path, mock: MockLLM, **llm: object):
    settings = load_settings(None, out_dir=tmp_path, cache_dir=cache_dir, llm={"provider": "mock", **llm})
    return make_llm(settings, mock=mock)


def _walk(node):
    if isinstance(node, dict):
        yield node
        for v in node.values():
            yield from _walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from _walk(v)


def test_strict_schema_shape() -> None:
    schema = strict_json_schema(Metadata)
    assert "$defs" not in schema and "$ref" not in json.dumps(schema)
    objects = [n for n in _walk(schema) if n.get("type") == "object"]
    assert len(objects) >= 3  # Metadata, NumberMention, KeyResult
    for obj in objects:
        assert obj["additionalProperties"] is False
        assert obj["required"] == list(obj["properties"])
    for node in _walk(schema):
        assert not {"default", "format", "title"} & set(node)
    # optional fields stay nullable rather than optional
    assert {"type": "null"} in schema["properties"]["tldr"]["anyOf"]


def test_json_schema_mode_sends_strict_schema(tmp_path: Path, cache_dir: Path) -> None:
    mock = recording_mock()
    res = _llm(tmp_path, cache_dir, mock, json_mode="json_schema").complete_json(
        PAPER, PaperFacts, schema_name="paper facts"
    )
    assert res.ok and res.attempts == 1 and not res.errors
    rf = mock.recorder.requests[0]["response_format"]
    assert rf["type"] == "json_schema" and rf["json_schema"]["strict"] is True
    assert rf["json_schema"]["name"] == "paper_facts"
    assert rf["json_schema"]["schema"] == strict_json_schema(PaperFacts)
    facts = res.value
    assert isinstance(facts, PaperFacts)
    assert facts.topic == "language"
    assert {r.value for r in facts.key_results} <= {"7B", "0.00025%", "2", "7"}
    assert any(m in facts.methods for m in ("LoLDU", "LLaMA2-7B", "GLUE", "Low-Rank"))


def test_json_object_mode_puts_schema_in_system_prompt(tmp_path: Path, cache_dir: Path) -> None:
    mock = recording_mock()
    res = _llm(tmp_path, cache_dir, mock, json_mode="json_object").complete_json(
        TRANSLATE, Translations, schema_name="translations"
    )
    assert res.ok and res.value.translations[0].id == "s1"
    body = mock.recorder.requests[0]
    assert body["response_format"] == {"type": "json_object"}
    assert body["messages"][0]["role"] == "system"
    assert '"translations"' in body["messages"][0]["content"]
    assert body["messages"][0]["content"].startswith("Translate each segment")


def test_auto_falls_back_once_when_server_rejects_json_schema(tmp_path: Path, cache_dir: Path) -> None:
    mock = recording_mock(reject_json_schema=True)
    llm = _llm(tmp_path, cache_dir, mock, json_mode="auto")
    first = llm.complete_json(PAPER, PaperFacts, schema_name="facts")
    assert first.ok and [b["response_format"]["type"] for b in mock.recorder.requests] == [
        "json_schema",
        "json_object",
    ]
    second = llm.complete_json(TRANSLATE, Translations, schema_name="translations")
    assert (
        second.ok
        and len(mock.recorder.requests) == 3
        and mock.recorder.requests[2]["response_format"]["type"] == "json_object"
    )
    # a server that refuses the mode llm.json_mode demands is a settings error naming the setting
    with pytest.raises(ConfigError, match="refuses structured output mode json_schema.*llm.json_mode"):
        _llm(
            tmp_path, cache_dir, recording_mock(reject_json_schema=True), json_mode="json_schema"
        ).complete_json(PAPER, PaperFacts, schema_name="facts")


def test_reask_names_the_errors_after_malformed_output(tmp_path: Path, cache_dir: Path) -> None:
    mock = recording_mock()
    mock.script(["malformed"])
    res = _llm(tmp_path, cache_dir, mock).complete_json(TRANSLATE, Translations, schema_name="t")
    assert res.ok and res.attempts == 2
    assert "not valid JSON" in res.errors[0]
    retry = mock.recorder.requests[1]["messages"]
    assert retry[: len(TRANSLATE)] == TRANSLATE
    assert retry[-2]["role"] == "assistant" and retry[-1]["role"] == "user"
    assert "not valid JSON" in retry[-1]["content"]


def test_validation_errors_never_raise(tmp_path: Path, cache_dir: Path) -> None:
    class Strict(BaseModel):
        tldr: str = Field(pattern=r"^IMPOSSIBLE-\d+$")  # the schema sent cannot carry this

    mock = recording_mock()
    res = _llm(tmp_path, cache_dir, mock).complete_json(PAPER, Strict, schema_name="s", max_reasks=2)
    assert not res.ok and res.value is None and res.attempts == 3 and len(mock.recorder.requests) == 3
    assert all("tldr" in e for e in res.errors) and res.raw.startswith("{")
    assert "tldr" in mock.recorder.requests[2]["messages"][-1]["content"]


def test_truncation_and_refusal_are_reported_and_reasked(tmp_path: Path, cache_dir: Path) -> None:
    mock = recording_mock()
    llm = _llm(tmp_path, cache_dir, mock)
    mock.script(["truncate"])
    res = llm.complete_json(TRANSLATE, Translations, schema_name="t")
    assert res.ok and res.truncated and res.attempts == 2
    assert (
        mock.recorder.requests[1]["max_tokens"] > mock.recorder.requests[0]["max_tokens"]
    )  # more room on the re-ask

    mock.script(["truncate"])
    res = llm.complete_json(TRANSLATE, Translations, schema_name="t", max_reasks=0)
    assert not res.ok and res.truncated and res.attempts == 1

    mock.script(["refusal", "refusal"])
    res = llm.complete_json(TRANSLATE, Translations, schema_name="t")
    assert not res.ok and res.refused and res.attempts == 2 and "refused" in res.errors[0]
    mock.script(["refusal"])
    res = llm.complete_json(TRANSLATE, Translations, schema_name="t")
    assert res.ok and res.refused and res.attempts == 2


def test_small_max_tokens_truncates_for_real(tmp_path: Path, cache_dir: Path) -> None:
    llm = _llm(tmp_path, cache_dir, MockLLM())
    comp = llm.complete(PAPER, max_tokens=5, response_format={"type": "json_object"})
    assert comp.finish_reason == "length" and comp.completion_tokens == 5


def test_auto_keeps_json_schema_after_an_unrelated_400(tmp_path: Path, cache_dir: Path) -> None:
    msg = {
        "error": {
            "message": "This model's maximum context length is 8192 tokens.",
            "type": "invalid_request_error",
            "param": "messages",
            "code": None,
        }
    }
    recorder = Recorder(answer=lambda req: (400, msg) if len(recorder) == 1 else None)
    mock = MockLLM(recorder=recorder)
    llm = _llm(tmp_path, cache_dir, mock)
    with pytest.raises(ContextLengthError, match="maximum context length") as err:
        llm.complete_json(PAPER, PaperFacts, schema_name="facts")
    assert err.value.context_window == 8192  # for the stage to split the batch
    assert llm.complete_json(PAPER, PaperFacts, schema_name="facts").ok
    assert [b["response_format"]["type"] for b in mock.recorder.requests] == ["json_schema", "json_schema"]
