"""Real servers' quirks, replayed: every fixture of ``tests/fixtures/quirks/`` (a real error
body or behaviour, naming its source) is answered by the mock's ``replay`` fault to the real
client, and the client's reaction is asserted: it falls back, splits, retries after the
delay, stops with a clean ConfigError, re-asks, flags...

A fixture must appear in exactly one reaction table below (``test_every_fixture_...``)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from pipeline.errors import ConfigError, ContextLengthError, LLMError
from pipeline.llm import make_llm
from pipeline.llm.capabilities import Capabilities, CapabilityStore, now_iso
from pipeline.llm.mock import MockLLM, MockTransport, Recorder
from pipeline.settings import load_settings
from pipeline.store.layout import OutDir
from tests.paths import FIXTURES

QUIRKS = FIXTURES / "quirks"
LOCAL = "http://127.0.0.1:9/v1"  # never contacted: the mock answers through its transport


class Facts(BaseModel):
    title: str
    keywords: list[str]


class TitleTags(BaseModel):
    title: str
    tags: list[str]


class Players(BaseModel):
    player_names: list[str]


class Title(BaseModel):
    title: str


PAPER = [
    {"role": "system", "content": "Extract the facts of the paper as JSON."},
    {"role": "user", "content": '<paper id="1">LoRA tunes 0.1% of the weights of a 7B model.</paper>'},
]


def fixture(name: str) -> dict[str, Any]:
    return json.loads((QUIRKS / f"{name}.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


def llm_for(tmp_path: Path, cache_dir: Path, mock: MockLLM, *, mode: str | None = None, **llm: Any):
    """The real client for an OpenAI-compatible server on this machine, answered by ``mock``.
    ``mode``: the structured-output mode the endpoint was found to take (a fresh cached probe)."""
    settings = load_settings(
        None,
        out_dir=tmp_path,
        cache_dir=cache_dir,
        llm={"provider": "openai", "base_url": LOCAL, "max_retries": 2, "probe": False, **llm},
    )
    if mode is not None:
        caps = Capabilities(
            base_url=LOCAL, model=settings.llm.chat_model, probed_at=now_iso(), structured_mode=mode
        )
        CapabilityStore(OutDir(tmp_path).capabilities_path).put(caps)
        settings.llm.probe = True
    return make_llm(settings, transport=MockTransport(mock))


def recording(**kw: Any) -> MockLLM:
    return MockLLM(recorder=Recorder(), **kw)


def sent_modes(mock: MockLLM) -> list[str]:
    out = []
    for body in mock.recorder.requests:
        rf = body.get("response_format")
        out.append("text" if not rf else "json_object_schema" if rf.get("schema") else str(rf.get("type")))
    return out


def hint_mode(fx: dict[str, Any]) -> str:
    """The structured-output mode of the request the fixture answered."""
    hint = fx["request_hint"]
    if "json_schema" in hint or '"xml"' in hint:
        return "json_schema"
    if '"schema"' in hint:
        return "json_object_schema"
    return "json_object" if "json_object" in hint else "json_schema"


def hint_messages(fx: dict[str, Any]) -> list[dict]:
    hint = fx["request_hint"]
    return json.loads(hint[hint.index("{") :])["messages"]


# -- unsupported response_format, at any status: step down the chain --------------------------

REFUSED_FORMAT = [
    "response_format_400_groq",
    "response_format_400_llama_cpp_server",
    "response_format_400_llama_cpp_server_bad_schema",
    "response_format_400_lm_studio",
    "response_format_400_lm_studio_legacy_text",
    "response_format_400_openai_invalid_type",
    "response_format_400_vllm",
    "response_format_422_fastapi_default",
    "response_format_500_llama_cpp_python",
    "response_format_500_llama_cpp_python_stream",
    "response_format_500_llama_cpp_python_unknown_type",
    "response_format_500_llama_cpp_server_legacy",
    "observed_response_format_500_llama_cpp_python",
]
CHAIN = ["json_schema", "json_object_schema", "json_object", "text"]


@pytest.mark.parametrize("name", REFUSED_FORMAT)
def test_a_refused_format_steps_down_at_once_and_is_remembered(tmp_path, cache_dir, name) -> None:
    fx = fixture(name)
    start = hint_mode(fx)
    nxt = CHAIN[CHAIN.index(start) + 1]
    mock = recording()
    mock.replay(fx)
    llm = llm_for(tmp_path, cache_dir, mock, mode=start)
    res = llm.complete_json(PAPER, Facts, schema_name="facts")
    assert res.ok and res.attempts == 1, res.errors
    # one refused request (never retried as is, whatever its status), then the next mode
    assert sent_modes(mock) == [start, nxt]
    caps = json.loads(OutDir(tmp_path).capabilities_path.read_text())["endpoints"]
    (record,) = caps.values()
    assert start in record["rejected_modes"] and record["structured_mode"] == nxt
    llm.complete_json(PAPER, Facts, schema_name="facts")
    assert sent_modes(mock)[-1] == nxt  # remembered for the process


# -- an error that does not name the format: a server fault, retried, the mode kept -----------

SERVER_FAULT = ["response_format_500_vllm", "observed_developer_role_500_llama_cpp_python"]


@pytest.mark.parametrize("name", SERVER_FAULT)
def test_an_error_that_names_no_format_is_retried_not_taken_for_a_refusal(tmp_path, cache_dir, name) -> None:
    mock = recording()
    mock.replay(fixture(name))
    llm = llm_for(tmp_path, cache_dir, mock)
    res = llm.complete_json(PAPER, Facts, schema_name="facts")
    assert res.ok
    assert sent_modes(mock) == ["json_schema", "json_schema"]
    assert llm.capabilities().rejected_modes == {}


# -- context length exceeded: ContextLengthError (split), never retried as is -------------------

CONTEXT = {
    "context_length_400_llama_cpp_python": 512,
    "context_length_400_llama_cpp_server": 512,
    "context_length_400_llama_cpp_server_stream": 512,
    "context_length_400_lm_studio": 4096,
    "context_length_400_openai": 128000,
    "context_length_400_openrouter": 16384,
    "context_length_400_vllm": 8192,
    "context_length_400_vllm_2026": 8192,
    "context_length_400_vllm_legacy": 16384,
    "context_length_413_groq_request_too_large": None,
    "observed_context_length_400_llama_cpp_python": 512,
}


@pytest.mark.parametrize("name", sorted(CONTEXT))
def test_context_length_is_a_context_length_error_never_retried(tmp_path, cache_dir, name) -> None:
    mock = recording()
    mock.replay(fixture(name))
    llm = llm_for(tmp_path, cache_dir, mock, mode="json_schema")
    with pytest.raises(ContextLengthError) as err:
        llm.complete_json(PAPER, Facts, schema_name="facts")
    assert len(mock.recorder.requests) == 1
    assert err.value.context_window == CONTEXT[name]
    if CONTEXT[name]:  # the window is learnt, for the stage to size its batches
        assert llm.capabilities().context_window == CONTEXT[name]
        saved = CapabilityStore(OutDir(tmp_path).capabilities_path).get(LOCAL, "gpt-4o-mini")
        assert saved is not None and saved.context_window == CONTEXT[name]


EMPTY_STREAM = [
    "context_length_200_empty_stream_llama_cpp_python",
    "observed_context_length_200_empty_stream_llama_cpp_python",
]


@pytest.mark.parametrize("name", EMPTY_STREAM)
def test_an_empty_stream_is_an_error_not_an_empty_answer(tmp_path, cache_dir, name) -> None:
    mock = MockLLM()
    mock.replay(fixture(name))
    llm = llm_for(tmp_path, cache_dir, mock)
    with pytest.raises(LLMError, match="was empty"):
        list(llm.stream([{"role": "user", "content": "word " * 50}]))


MIDSTREAM = [
    "openai_midstream_error",
    "openrouter_midstream_error",
    "vllm_midstream_error",
    "llama_cpp_server_midstream_error",
]


@pytest.mark.parametrize("name", MIDSTREAM)
def test_an_error_inside_a_stream_fails_the_call(tmp_path, cache_dir, name) -> None:
    mock = MockLLM()
    mock.replay(fixture(name))
    llm = llm_for(tmp_path, cache_dir, mock)
    with pytest.raises(LLMError) as err:
        list(llm.stream([{"role": "user", "content": "hi"}]))
    assert "127.0.0.1:9" in str(err.value)


STREAM_CUT = [
    "finish_length_llama_cpp_server_stream",
    "finish_length_ctx_full_llama_cpp_server_stream",
    "finish_length_stream_llama_cpp_python",
    "empty_choices_azure_content_filter_chunk",
]


@pytest.mark.parametrize("name", STREAM_CUT)
def test_a_stream_that_finishes_is_returned_whole(tmp_path, cache_dir, name) -> None:
    """finish_reason "length" ends a stream properly (the text is what came); chunks with
    ``choices: []`` (Azure's content-filter preamble) are skipped."""
    fx = fixture(name)
    expected = "".join(
        (c.get("delta") or {}).get("content") or ""
        for line in fx["stream"].splitlines()
        if line.startswith("data: {")
        for c in json.loads(line[6:]).get("choices") or []
    )
    mock = MockLLM()
    mock.replay(fx)
    llm = llm_for(tmp_path, cache_dir, mock)
    assert "".join(llm.stream([{"role": "user", "content": "hi"}])) == expected and expected


# -- 429 and Retry-After -------------------------------------------------------------------------

RATE_LIMITED = ["rate_limit_429_openai", "rate_limit_429_groq"]


@pytest.mark.parametrize("name", RATE_LIMITED)
def test_429_waits_what_retry_after_asks_then_retries(tmp_path, cache_dir, name) -> None:
    fx = fixture(name)
    fx["headers"] = {**fx["headers"], "retry-after-ms": "400", "retry-after": "0.4"}  # keep the test short
    mock = recording()
    mock.replay(fx)
    llm = llm_for(tmp_path, cache_dir, mock)
    t0 = time.monotonic()
    assert llm.complete([{"role": "user", "content": "hi"}]).text
    assert time.monotonic() - t0 >= 0.38
    assert len(mock.recorder.requests) == 2
    assert llm.meter.snapshot()["rate_limited"] == 1


@pytest.mark.parametrize("name", RATE_LIMITED)
def test_429_asking_for_longer_than_the_cap_fails_at_once(tmp_path, cache_dir, name) -> None:
    fx = fixture(name)
    fx["headers"] = {**fx["headers"], "retry-after-ms": "3600000", "retry-after": "3600"}
    mock = recording()
    mock.replay(fx, times=5)
    llm = llm_for(tmp_path, cache_dir, mock, max_retry_after=30)
    t0 = time.monotonic()
    with pytest.raises(LLMError, match="asks to wait 3600 s"):
        llm.complete([{"role": "user", "content": "hi"}])
    assert len(mock.recorder.requests) == 1 and time.monotonic() - t0 < 5


def test_a_quota_429_is_not_retried(tmp_path, cache_dir) -> None:
    mock = recording()
    mock.replay(fixture("rate_limit_429_openrouter"), times=5)
    llm = llm_for(tmp_path, cache_dir, mock)
    with pytest.raises(ConfigError, match="out of credit or quota"):
        llm.complete([{"role": "user", "content": "hi"}])
    assert len(mock.recorder.requests) == 1


def test_an_error_inside_a_200_is_retried_by_its_code(tmp_path, cache_dir) -> None:
    """OpenRouter: HTTP 200 with ``{"error": {"code": 429}}`` and no choices."""
    mock = recording()
    mock.replay(fixture("openrouter_error_in_200"))
    llm = llm_for(tmp_path, cache_dir, mock)
    assert llm.complete_json(PAPER, Facts, schema_name="facts").ok
    assert len(mock.recorder.requests) == 2
    mock.replay(fixture("openrouter_error_in_200"), times=5)
    with pytest.raises(LLMError, match="HTTP 429.*inside an HTTP 200"):
        llm_for(tmp_path, cache_dir, mock, max_retries=0).complete([{"role": "user", "content": "hi"}])


# -- model not found -------------------------------------------------------------------------------

MODEL_NOT_FOUND = [
    "model_not_found_400_openrouter",
    "model_not_found_400_llama_cpp_server_router",
    "model_not_found_404_ollama",
    "model_not_found_404_ollama_legacy",
    "model_not_found_404_openai",
    "model_not_found_404_vllm",
]


@pytest.mark.parametrize("name", MODEL_NOT_FOUND)
def test_model_not_found_is_a_config_error_naming_the_served_models(tmp_path, cache_dir, name) -> None:
    mock = recording(models=("qwen2.5:7b", "llama3.2:1b"))
    mock.replay(fixture(name))
    llm = llm_for(tmp_path, cache_dir, mock)
    with pytest.raises(ConfigError) as err:
        llm.complete_json(PAPER, Facts, schema_name="facts")
    msg = str(err.value)
    assert "unknown model 'gpt-4o-mini'" in msg and "--model" in msg
    assert "it serves: " in msg and "llama3.2:1b" in msg and "qwen2.5:7b" in msg
    assert len(mock.recorder.requests) == 1


MODEL_IGNORED = [
    "model_not_found_200_llama_cpp_python",
    "model_not_found_200_llama_cpp_server_single",
    "observed_model_name_ignored_llama_cpp_python",
]


@pytest.mark.parametrize("name", MODEL_IGNORED)
def test_a_single_model_server_answers_any_name_so_its_own_name_is_used(tmp_path, name) -> None:
    """llama.cpp servers answer every model name with the loaded model: with no model set,
    digest names what the server serves (its record and cache keys say the truth)."""
    from pipeline.cli.options import build_settings
    from pipeline.llm.mock.http import serve

    fx = fixture(name)
    served = "gemma3-270m"  # what GET /models lists; the replies name the model asked for, or the file
    mock = MockLLM(models=(served,))
    mock.replay(fx)
    with serve(mock=mock) as server:
        settings = build_settings(
            out_dir=tmp_path, llm_provider="openai", base_url=server.url, llm={"probe": False}
        )
        assert settings.llm.chat_model == served
        assert settings.llm.price_basis.startswith("local endpoint: $0")
        comp = make_llm(settings).complete([{"role": "user", "content": "Say hi."}])
    assert comp.text  # the replayed 200 is a normal answer
    explicit = build_settings(out_dir=tmp_path, llm_provider="openai", base_url=LOCAL, chat_model="mine")
    assert explicit.llm.chat_model == "mine"


# -- replies that are not usable as they are ---------------------------------------------------

TRUNCATED = [
    "finish_length_truncated_json_llama_cpp_python",
    "observed_finish_length_truncated_json_llama_cpp_python",
    "observed_json_object_loops_to_length_llama_cpp_python",
    "observed_max_tokens_clamped_llama_cpp_python",
]


@pytest.mark.parametrize("name", TRUNCATED)
def test_a_reply_cut_at_max_tokens_is_reasked_with_more_room(tmp_path, cache_dir, name) -> None:
    mock = recording()
    mock.replay(fixture(name))
    llm = llm_for(tmp_path, cache_dir, mock)
    res = llm.complete_json(PAPER, Facts, schema_name="facts", max_tokens=300)
    assert res.ok and res.truncated and res.attempts == 2
    assert "cut off" in res.errors[0]
    first, second = mock.recorder.requests
    assert second["max_tokens"] > first["max_tokens"]


UNUSABLE = {
    "empty_choices_200_generic_gateway": "no choices",
    "empty_content_200_llama_cpp_python": "empty",
    "observed_empty_content_llama2_fallback_llama_cpp_python": "empty",
    "refusal_openai": "refused",
    "observed_translation_wrong_key_json_object_llama_cpp_python": "Field required",
    "json_object_schema_fallback_200_llama_cpp_python": "cut off",
    "json_object_schema_llama_cpp_python_fallback": "Field required",
}


@pytest.mark.parametrize("name", sorted(UNUSABLE))
def test_an_unusable_reply_is_reasked_with_its_problem_named(tmp_path, cache_dir, name) -> None:
    fx = fixture(name)
    if fx["body"] is None:  # behaviour only: llama-cpp-python's silent fallback to "any JSON"
        fx = {
            **fixture("json_object_schema_fallback_200_llama_cpp_python"),
            "request_hint": fx["request_hint"],
        }
        fx["body"]["choices"][0].update(
            finish_reason="stop", message={"role": "assistant", "content": '{"x": 1}'}
        )
    mock = recording()
    mock.replay(fx)
    llm = llm_for(tmp_path, cache_dir, mock)
    res = llm.complete_json(PAPER, Facts, schema_name="facts")
    assert res.ok and res.attempts == 2
    assert UNUSABLE[name] in res.errors[0]
    reask = mock.recorder.requests[1]["messages"][-1]["content"]
    assert "previous" in reask


ECHOES = [
    "echo_prompt_llama_cpp_python_gemma270m",
    "echo_prompt_llama_cpp_python_gemma270m_system",
    "echo_prompt_localai",
    "observed_echo_prompt_llama_cpp_python",
]


@pytest.mark.parametrize("name", ECHOES)
def test_a_reply_that_repeats_the_prompt_is_refused_and_reasked(tmp_path, cache_dir, name) -> None:
    fx = fixture(name)
    mock = recording()
    mock.replay(fx)
    llm = llm_for(tmp_path, cache_dir, mock)
    res = llm.complete_json(hint_messages(fx), TitleTags, schema_name="facts")
    assert res.ok and res.attempts == 2
    assert "repeats the prompt" in res.errors[0]


TOLERATED = {
    "code_fence_vllm": (Players, {"player_names": ["Mike Trout", "Mookie Betts", "Christian Yelich"]}),
    "prose_trailing_comma_small_model": (TitleTags, {"title": "Quarterly report", "tags": ["finance", "q3"]}),
    "json_object_schema_200_llama_cpp_python": (Title, {"title": "Quarterly sales report for the year 2016"}),
    "json_object_schema_llama_cpp_server": (Title, {"title": "Sales Reports for the Quarter 2016 - 2017"}),
    "response_format_json_schema_200_llama_cpp_server": (
        Title,
        {"title": "Sales Reports for the Quarter 2016 - 2017"},
    ),
    "observed_json_object_schema_valid_llama_cpp_python": (
        Facts,
        {
            "title": "Small Language Models for Large-scale Data Analysis",
            "keywords": ["small language model", "large language model"],
        },
    ),
    "observed_translation_copies_korean_llama_cpp_python": (None, None),
}


class Translations(BaseModel):
    class Item(BaseModel):
        id: str
        text: str

    translations: list[Item]


@pytest.mark.parametrize("name", sorted(TOLERATED))
def test_json_in_fences_prose_or_grammar_output_is_parsed_first_time(tmp_path, cache_dir, name) -> None:
    model_cls, expected = TOLERATED[name]
    mock = recording()
    mock.replay(fixture(name))
    llm = llm_for(tmp_path, cache_dir, mock)
    res = llm.complete_json(PAPER, model_cls or Translations, schema_name="x")
    assert res.ok and res.attempts == 1, res.errors
    if expected is not None:
        assert res.value.model_dump() == expected
    else:  # valid JSON holding the Korean source: accepted here, flagged by translate's Hangul check
        assert any("\uac00" <= ch <= "\ud7a3" for ch in res.value.translations[0].text)


def test_replies_that_ignore_the_format_step_down_after_three(tmp_path, cache_dir) -> None:
    """``response_format_ignored_ollama``: a 200 whose content ignores the format (prose)
    counts as a failed attempt of that mode; three in a row give the mode up."""
    prose = fixture("json_object_schema_fallback_200_llama_cpp_python")
    prose["body"]["choices"][0].update(
        finish_reason="stop", message={"role": "assistant", "content": "Sure, the weather is fine today."}
    )
    mock = recording()
    mock.replay(prose, times=3)
    llm = llm_for(tmp_path, cache_dir, mock, mode="json_object")
    llm.complete_json(PAPER, Facts, schema_name="facts", max_reasks=0)
    llm.complete_json(PAPER, Facts, schema_name="facts", max_reasks=0)
    assert llm.complete_json(PAPER, Facts, schema_name="facts", max_reasks=1).ok
    assert sent_modes(mock) == ["json_object", "json_object", "json_object", "text"]
    assert "ignored the format" in llm.capabilities().rejected_modes["json_object"]


# -- every fixture: sourced, and in one reaction table -----------------------------------------

DISCOVERY = {  # tests/llm/test_probe.py
    "context_discovery_llama_cpp_python_models",
    "context_discovery_llama_cpp_python_props_404",
    "context_discovery_llama_cpp_python_tokenize_count",
    "context_discovery_llama_cpp_server_models",
    "context_discovery_llama_cpp_server_props",
    "context_discovery_lm_studio_v0",
    "context_discovery_lm_studio_v1",
    "context_discovery_ollama_ps",
    "context_discovery_ollama_show",
    "context_discovery_vllm_models",
    "context_length_200_ollama_truncation",
    "observed_models_llama_cpp_python",
    "observed_openapi_llama_cpp_python",
    "observed_props_404_llama_cpp_python",
    "observed_system_message_dropped_llama_cpp_python",
    "gguf_package_gemma3_270m",
}
ELSEWHERE = {"response_format_ignored_ollama", "openrouter_error_in_200", "rate_limit_429_openrouter"}


def test_every_fixture_names_its_source_and_has_a_reaction_test() -> None:
    tables = [
        REFUSED_FORMAT, SERVER_FAULT, CONTEXT, EMPTY_STREAM, MIDSTREAM, STREAM_CUT, RATE_LIMITED,
        MODEL_NOT_FOUND, MODEL_IGNORED, TRUNCATED, UNUSABLE, ECHOES, TOLERATED, DISCOVERY, ELSEWHERE,
    ]  # fmt: skip
    covered = [n for t in tables for n in t]
    names = sorted(p.stem for p in QUIRKS.glob("*.json"))
    assert len(names) >= 80
    assert sorted(set(covered)) == names and len(covered) == len(set(covered))
    for name in names:
        fx = fixture(name)
        # a URL, a source file of the server, or "observed: <server>, <date>"
        assert any(k in fx["source"] for k in ("https://", ".py", "observed")), name
        assert fx["case"] and "status" in fx
