"""The Batch API cycle through the SDK against the mock, and persistence across processes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.errors import LLMError
from pipeline.llm import batch_api as ba
from pipeline.llm import make_llm
from pipeline.llm.mock import MockLLM
from pipeline.settings import load_settings
from pipeline.text.hangul import has_hangul


def _body(i: int, model: str = "gpt-4o-mini") -> dict:
    return {
        "model": model,
        "messages": [
            {
                "role": "user",
                "content": f'<segment id="s{i}">{i}번째 모델은 7B 파라미터를 사용합니다.</segment>',
            }
        ],
        "response_format": {"type": "json_object"},
    }


def _settings(tmp_path: Path, faults: str = ""):
    return load_settings(
        None,
        out_dir=tmp_path / "out",
        cache_dir=tmp_path / "cache",
        llm={"provider": "mock", "mock_faults": faults},
    )


def test_full_batch_cycle_with_failures(tmp_path: Path) -> None:
    mock = MockLLM("batch_fail_ids=r2,batch_steps=2", state_dir=tmp_path / "state")
    llm = make_llm(_settings(tmp_path), mock=mock)
    lines = [ba.request_line(f"r{i}", _body(i)) for i in range(4)]
    lines.append(ba.request_line("bad-model", _body(9, model="gpt-nope")))
    file_id = ba.upload_requests(llm, lines)
    assert file_id.startswith("file-")
    assert llm.client.files.retrieve(file_id).purpose == "batch"
    batch = ba.create_batch(llm, file_id, metadata={"stage": "translate"})
    assert batch.status == "validating" and batch.input_file_id == file_id
    assert ba.retrieve(llm, batch.id).status == "in_progress"
    done = ba.retrieve(llm, batch.id)
    assert done.status == "completed"
    assert (
        done.request_counts.total == 5
        and done.request_counts.completed == 3
        and done.request_counts.failed == 2
    )
    out = ba.download(llm, done.output_file_id)
    assert [x["custom_id"] for x in out] == ["r0", "r1", "r3"]
    for x in out:
        assert x["response"]["status_code"] == 200 and x["error"] is None
        content = x["response"]["body"]["choices"][0]["message"]["content"]
        seg = json.loads(content)["translations"][0]
        assert "7B" in seg["text"] and not has_hangul(seg["text"])
    errs = {x["custom_id"]: x for x in ba.download(llm, done.error_file_id)}
    assert errs["r2"]["response"] is None and errs["r2"]["error"]["code"] == "server_error"
    assert errs["bad-model"]["response"]["status_code"] == 404
    assert [b.id for b in llm.client.batches.list()] == [batch.id]


def test_batches_persist_for_a_new_process_mock(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    first = make_llm(settings, mock=MockLLM(state_dir=settings.out_dir / ".mock-llm"))
    file_id = ba.upload_requests(first, [ba.request_line("only", _body(1))])
    batch_id = ba.create_batch(first, file_id).id
    # a fresh MockLLM on the same state dir, as a later `--llm mock` process would build
    later = make_llm(settings, mock=MockLLM(state_dir=settings.out_dir / ".mock-llm"))
    done = ba.retrieve(later, batch_id)
    assert done.status == "completed" and done.request_counts.completed == 1
    assert ba.download(later, done.output_file_id)[0]["custom_id"] == "only"
    assert (settings.out_dir / ".mock-llm" / "state.json").is_file()


def test_cancel_and_bad_input(tmp_path: Path) -> None:
    mock = MockLLM("batch_steps=5")
    llm = make_llm(_settings(tmp_path), mock=mock)
    file_id = ba.upload_requests(llm, [ba.request_line("a", _body(1))])
    batch = ba.create_batch(llm, file_id)
    assert ba.cancel(llm, batch.id).status == "cancelling"
    assert ba.retrieve(llm, batch.id).status == "cancelled"
    with pytest.raises(LLMError, match="HTTP 404"):
        ba.retrieve(llm, "batch_missing")
    with pytest.raises(LLMError, match="HTTP 400"):
        ba.create_batch(llm, "file-missing")
    broken = ba.upload_requests(llm, [{"custom_id": "x", "url": "/v1/embeddings", "body": {}}])
    failed = ba.retrieve(llm, ba.create_batch(llm, broken).id)
    for _ in range(4):
        failed = ba.retrieve(llm, failed.id)
    assert failed.status == "failed" and failed.errors.data[0].line == 1
