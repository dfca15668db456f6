"""The mock's built-in request recorder (what tests used to subclass the mock for)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.errors import LLMError
from pipeline.llm import make_llm
from pipeline.llm.mock import MockLLM, Recorder
from pipeline.settings import load_settings

HELLO = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Tell me about LoRA."}]


def _llm(tmp_path: Path, mock: MockLLM):
    settings = load_settings(None, out_dir=tmp_path, llm={"provider": "mock", "max_retries": 0})
    return make_llm(settings, mock=mock)


def test_records_every_chat_request(tmp_path: Path) -> None:
    mock = MockLLM(recorder=Recorder())
    llm = _llm(tmp_path, mock)
    llm.complete(HELLO)
    llm.complete(HELLO, max_tokens=5)
    rec = mock.recorder
    assert rec is not None and len(rec) == 2
    assert rec.user_text(0) == "Tell me about LoRA." and rec.system_text(0) == "Be brief."
    assert rec.requests[1]["max_tokens"] == 5


def test_fault_edit_and_answer_hooks(tmp_path: Path) -> None:
    rec = Recorder(
        fault=lambda req: "truncate" if "fault" in req["messages"][-1]["content"] else None,
        edit=lambda req, content: content.upper(),
        answer=lambda req: (
            (503, {"error": {"message": "down", "type": "x", "param": None, "code": None}})
            if "down" in req["messages"][-1]["content"]
            else None
        ),
    )
    llm = _llm(tmp_path, MockLLM(recorder=rec))
    assert llm.complete(HELLO).text.isupper()
    cut = llm.complete([{"role": "user", "content": "a fault please"}])
    assert cut.finish_reason == "length" and not cut.text.isupper()  # a fault reply is not edited
    with pytest.raises(LLMError, match="HTTP 503"):
        llm.complete([{"role": "user", "content": "are you down?"}])
    assert len(rec) == 3
