"""The Batch API path of translate and enrich, in-process through the real SDK against the mock."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pipeline.batch.ledger import Ledger
from pipeline.batch.orchestrator import batch_status, collect, submit_stage
from pipeline.llm import batch_api as ba
from pipeline.llm import make_llm
from pipeline.llm.mock import MockLLM, Recorder
from pipeline.records import Metadata, SectionTranslation
from pipeline.settings import load_settings
from pipeline.stages.enrich import enrich_stage
from pipeline.stages.parse import parse_stage
from pipeline.stages.translate import translate_stage
from pipeline.store.jsonl import iter_jsonl_dicts, read_jsonl
from pipeline.store.layout import OutDir
from pipeline.text.hangul import has_hangul
from tests.paths import FIXTURES

N_SECTIONS = 8  # sections of translate_digest.md; one is already English


def recording_mock(*args: Any, korean_once: str | None = None, **kw: Any) -> MockLLM:
    """The mock with its recorder: the body of every chat request (online or batch line);
    ``korean_once``: a paper id whose first metadata reply is Korean."""
    return MockLLM(*args, recorder=Recorder(fault=_first_reply_korean(f'<paper id="{korean_once}"')), **kw)


def _first_reply_korean(marker: str) -> Callable[[dict], str | None]:
    """A recorder fault hook: the first request whose user text holds ``marker`` gets a reply
    that keeps its Korean."""
    pending = [marker]

    def fault(req: dict) -> str | None:
        user = "\n".join(m["content"] for m in req["messages"] if m["role"] == "user")
        if pending and pending[0] in user:
            pending.clear()
            return "korean"
        return None

    return fault


def _settings(tmp_path: Path, fixture: str = "translate_digest.md", **translate: Any):
    out = tmp_path / "out"
    settings = load_settings(
        None,
        out_dir=out,
        cache_dir=tmp_path.parent / "digest-cache",
        progress="off",
        llm={"provider": "mock", "concurrency": 1, "max_retries": 0},
        translate={"batch_tokens": 120, **translate},
    )
    if not (out / "entries.jsonl").exists():
        parse_stage(settings, [FIXTURES / fixture])
    return settings


def _llm(settings, spec: str = "", mock: MockLLM | None = None):
    mock = mock or recording_mock(spec, state_dir=settings.out_dir / ".mock-llm")
    return make_llm(settings, mock=mock), mock


def _chat(mock: MockLLM) -> int:
    return mock.stats["by_endpoint"].get("chat", 0)


def _remote(llm) -> tuple[int, int]:
    files = [f for f in llm.client.files.list() if f.purpose == "batch"]
    return len(files), len(list(llm.client.batches.list()))


def _translations(settings) -> list[SectionTranslation]:
    return read_jsonl(settings.out_dir / "translations.jsonl", SectionTranslation)


def _assert_complete(settings) -> None:
    records = _translations(settings)
    assert sorted((r.entry_id, r.index) for r in records) == sorted({(r.entry_id, r.index) for r in records})
    assert len(records) == N_SECTIONS
    for r in records:
        assert r.text.strip() and not has_hangul(r.text), r
        assert not any("untranslated" in f for f in r.flags), r.flags


def _request_file(settings, rec) -> list[dict]:
    return list(iter_jsonl_dicts(settings.out_dir / rec.request_file))


def _zero_followup(settings) -> None:
    """A later online run makes no request and writes the complete output."""
    llm, mock = _llm(settings, mock=MockLLM())
    report = translate_stage(settings, llm=llm)
    assert _chat(mock) == 0 and report.requests == 0 and report.exit_code == 0
    _assert_complete(settings)


def test_batch_requests_are_exactly_the_online_requests(tmp_path: Path) -> None:
    online = _settings(tmp_path / "online")
    llm, mock = _llm(online)
    translate_stage(online, llm=llm)
    sent = sorted(json.dumps(b, sort_keys=True) for b in mock.recorder.requests)
    assert len(sent) >= 3  # the small budget packs the 7 Korean sections into several requests

    batched = _settings(tmp_path / "batched")
    llm, mock = _llm(batched)
    report = submit_stage(batched, "translate", llm=llm)
    rec = report.submitted
    assert rec is not None and rec.batch_id and rec.state == "submitted"
    lines = _request_file(batched, rec)
    assert sorted(json.dumps(x["body"], sort_keys=True) for x in lines) == sent
    assert all(x["url"] == "/v1/chat/completions" and x["method"] == "POST" for x in lines)
    assert {x["custom_id"] for x in lines} == set(rec.items)
    remote = llm.client.batches.retrieve(rec.batch_id)
    assert remote.completion_window == "24h" and remote.input_file_id == rec.input_file_id
    assert llm.client.files.retrieve(rec.input_file_id).purpose == "batch"
    assert _chat(mock) == 0


@pytest.mark.parametrize("crash", ["after_upload", "after_create"])
def test_interrupted_submission_resumes_without_duplicates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, crash: str
) -> None:
    settings = _settings(tmp_path)
    llm, _ = _llm(settings)
    real_upload, real_create = ba.upload_requests, ba.create_batch

    def upload(*a: Any, **kw: Any) -> str:
        real_upload(*a, **kw)  # reached the server, but the program dies before noting it
        raise KeyboardInterrupt

    def create(*a: Any, **kw: Any) -> Any:
        real_create(*a, **kw)
        raise KeyboardInterrupt

    if crash == "after_upload":
        monkeypatch.setattr(ba, "upload_requests", upload)
    else:
        monkeypatch.setattr(ba, "create_batch", create)
    with pytest.raises(KeyboardInterrupt):
        submit_stage(settings, "translate", llm=llm)
    monkeypatch.undo()
    (rec,) = Ledger(settings.out_dir).records()
    assert rec.state == ("submitting" if crash == "after_upload" else "uploaded") and rec.batch_id is None
    assert (settings.out_dir / rec.request_file).is_file()
    assert _remote(llm) == (1, 0 if crash == "after_upload" else 1)

    # a new process: the interrupted submission is completed, nothing is submitted twice
    llm2, mock = _llm(settings, "batch_steps=3")  # three looks before it completes
    report = submit_stage(settings, "translate", llm=llm2)
    assert [r.local_id for r in report.resumed] == [rec.local_id] and report.submitted is None
    assert _remote(llm2) == (1, 1)
    (done,) = Ledger(settings.out_dir).records()
    assert done.state == "submitted" and done.batch_id == next(iter(llm2.client.batches.list())).id
    # re-running --batch while it is pending reports it and submits nothing
    again = submit_stage(settings, "translate", llm=llm2)
    assert again.submitted is None and again.exit_code == 0 and "pending" in again.summary()
    assert _remote(llm2) == (1, 1)

    # status, then collect: the first look finds it running, the next one collects it
    status = batch_status(settings, llm=llm2)
    assert status.records[0].status == "in_progress" and "to collect" in status.summary()
    first = collect(settings, llm=llm2)
    assert not first.collected and first.waiting  # still running
    assert "not finished" in first.summary()
    assert not (settings.out_dir / "translations.jsonl").exists()
    second = collect(settings, llm=llm2)
    assert [r.batch_id for r in second.collected] == [done.batch_id] and second.exit_code == 0
    assert _chat(mock) == 0
    _assert_complete(settings)
    assert "done" in batch_status(settings, llm=llm2).summary()
    _zero_followup(settings)


def _fail(mock: MockLLM, custom_ids: list[str]) -> None:
    mock.faults.plan.batch_fail_ids = tuple(custom_ids)


def test_failed_items_fall_back_to_the_online_path(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    llm, mock = _llm(settings)
    rec = submit_stage(settings, "translate", llm=llm).submitted
    failing = sorted(rec.items)[:2]
    _fail(mock, failing)
    report = collect(settings, llm=llm)
    (got,) = report.collected
    assert sorted(got.failed) == failing and got.succeeded == len(rec.items) - 2
    assert all("server_error" in why for why in got.failed.values())
    # only the failed items went online
    online_segments = {s for b in mock.recorder.requests[-_chat(mock) :] for s in _segment_texts(b)}
    failed_keys = {k for cid in failing for k in rec.items[cid].keys}
    assert 1 <= _chat(mock) <= 2 and len(online_segments) == len(failed_keys)
    _assert_complete(settings)
    assert Ledger(settings.out_dir).records()[0].fallback == "online"

    # collecting twice is harmless: nothing downloaded, sent or journaled again
    journal = settings.out_dir / "cache" / "translate.jsonl"
    size, chats = journal.stat().st_size, _chat(mock)
    before = (settings.out_dir / "translations.jsonl").read_text()
    assert collect(settings, llm=llm).summary() == "no new batches to collect"
    assert journal.stat().st_size == size and _chat(mock) == chats
    assert (settings.out_dir / "translations.jsonl").read_text() == before
    _zero_followup(settings)


def _segment_texts(body: dict) -> list[str]:
    import re

    user = next(m["content"] for m in body["messages"] if m["role"] == "user")
    return re.findall(r"<segment id=\"[^\"]+\">(.*?)</segment>", user, re.S)


def test_resubmit_sends_only_the_failed_items_to_a_new_batch(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    llm, mock = _llm(settings)
    rec = submit_stage(settings, "translate", llm=llm).submitted
    failing = sorted(rec.items)[-1:]
    _fail(mock, failing)
    report = collect(settings, llm=llm, resubmit=True)
    (new,) = report.resubmitted
    assert new.batch_id != rec.batch_id and new.resubmit_of == rec.batch_id
    assert new.keys == set(rec.items[failing[0]].keys)  # only those items
    assert _chat(mock) == 0 and not (settings.out_dir / "translations.jsonl").exists()
    old = Ledger(settings.out_dir).get(rec.local_id)
    assert old.state == "collected" and old.resubmitted_as == new.batch_id
    assert "resubmitted" in report.summary()

    _fail(mock, [])
    final = collect(settings, llm=llm, resubmit=True)
    assert [r.batch_id for r in final.collected] == [new.batch_id] and not final.resubmitted
    assert _chat(mock) == 0
    _assert_complete(settings)
    _zero_followup(settings)


def test_expired_batch_keeps_finished_results_and_redoes_the_rest(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    llm, mock = _llm(settings, "batch_expire_after=1")
    rec = submit_stage(settings, "translate", llm=llm).submitted
    report = collect(settings, llm=llm)
    (got,) = report.collected
    assert got.status == "expired" and got.succeeded == 1
    assert len(got.failed) == len(rec.items) - 1
    assert all(why.startswith("batch_expired") for why in got.failed.values())
    assert _chat(mock) >= 1
    _assert_complete(settings)
    assert "expired" in batch_status(settings, llm=llm).summary()


def test_unfinished_batches_are_reported_or_waited_for(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    llm, _ = _llm(settings, "batch_steps=4")
    submit_stage(settings, "translate", llm=llm)
    naps: list[float] = []
    report = collect(settings, llm=llm, wait=True, timeout=60, poll=5, sleep=naps.append)
    assert report.collected and not report.waiting and naps == [5, 5, 5]
    _assert_complete(settings)

    other = _settings(tmp_path / "b")
    llm, _ = _llm(other, "batch_steps=50")
    submit_stage(other, "translate", llm=llm)
    timed = collect(other, llm=llm, wait=True, timeout=0, sleep=naps.append)
    assert timed.timed_out and timed.waiting and "gave up waiting" in timed.summary()


def test_dry_run_shows_online_and_batch_cost(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    report = translate_stage(settings, dry_run=True)
    assert report.cost > 0 and report.batch_cost == pytest.approx(report.cost / 2)
    text = report.summary()
    assert f"${report.cost:.4f} online" in text and f"${report.batch_cost:.4f} with --batch" in text
    assert not (settings.out_dir / "batches.jsonl").exists()


def test_enrich_batch_cycle_with_an_invalid_reply(tmp_path: Path) -> None:
    settings = _settings(tmp_path, "enrich_digest.md")
    dry = enrich_stage(settings, dry_run=True)
    assert dry.requests == 4 and dry.cost > 0 and dry.batch_cost == pytest.approx(dry.cost / 2)
    # the estimate names the model and the prices it assumed (settings, not a price list)
    assert f"for {settings.llm.chat_model} at $0.15 in / $0.6 out per 1M tokens" in dry.summary()
    assert not (settings.out_dir / "metadata.jsonl").exists()

    mock = recording_mock(state_dir=settings.out_dir / ".mock-llm", korean_once="2406.03184")
    llm, _ = _llm(settings, mock=mock)
    rec = submit_stage(settings, "enrich", llm=llm).submitted
    assert rec is not None and len(rec.items) == 4
    assert all(cid == "en-" + item.keys[0] for cid, item in rec.items.items())  # cache key = custom id
    report = collect(settings, llm=llm)
    (got,) = report.collected
    (bad,) = got.failed.values()  # the Korean reply fails validation -> online fallback
    assert "Korean" in bad and got.succeeded == 3
    assert _chat(mock) == 1 and report.exit_code == 0
    metas = read_jsonl(settings.out_dir / "metadata.jsonl", Metadata)
    assert len(metas) == 4 and all(m.llm_status == "ok" and m.tldr for m in metas)

    again, mock2 = _llm(settings, mock=MockLLM())
    follow = enrich_stage(settings, llm=again)
    assert follow.requests == 0 and _chat(mock2) == 0 and follow.from_cache == 4


def test_translate_fix_retry_goes_online(tmp_path: Path) -> None:
    """A reply with a validation problem: by default its fix request is sent online at once."""
    settings = _settings(tmp_path)
    llm, mock = _llm(settings, mock=_korean_first_translation(settings))
    rec = submit_stage(settings, "translate", llm=llm).submitted
    report = collect(settings, llm=llm)
    (got,) = report.collected
    assert not got.failed and not got.fixes and got.succeeded == len(rec.items)
    assert _chat(mock) == 1  # one fix request for the segments of the bad reply
    assert "<problems>" in mock.recorder.requests[-1]["messages"][1]["content"]
    _assert_complete(settings)
    _zero_followup(settings)


def _korean_first_translation(settings) -> MockLLM:
    """The mock whose first translation reply keeps the Korean (a reply that fails validation)."""
    return MockLLM(
        recorder=Recorder(fault=_first_reply_korean("<segment")), state_dir=settings.out_dir / ".mock-llm"
    )


def test_translate_fix_retry_through_the_batch(tmp_path: Path) -> None:
    """With --resubmit the fix request goes to the next batch instead."""
    settings = _settings(tmp_path)
    llm, mock = _llm(settings, mock=_korean_first_translation(settings))
    submit_stage(settings, "translate", llm=llm)
    report = collect(settings, llm=llm, resubmit=True)
    (got,) = report.collected
    assert got.fixes and not got.failed
    assert all("Korean text left untranslated" in f.problems[0] for f in got.fixes.values())
    (new,) = report.resubmitted
    assert new.keys == set(got.fixes) and all(item.fix for item in new.items.values())
    fix_body = _request_file(settings, new)[0]["body"]
    assert "<problems>" in fix_body["messages"][1]["content"]
    final = collect(settings, llm=llm)
    assert final.collected and _chat(mock) == 0
    _assert_complete(settings)


def test_status_without_batches_and_ledger_survives_a_torn_line(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    assert "no batches submitted" in batch_status(settings).summary()
    llm, _ = _llm(settings)
    submit_stage(settings, "translate", llm=llm)
    with open(OutDir(settings.out_dir).batch_ledger_path, "a") as f:
        f.write('{"local_id": "translate-x", "sta')  # a crash mid-append
    (rec,) = Ledger(settings.out_dir).records()
    assert rec.state == "submitted"
    assert collect(settings, llm=llm).collected
    _assert_complete(settings)


def test_online_run_warns_about_items_waiting_in_a_batch(tmp_path: Path, caplog) -> None:
    settings = _settings(tmp_path)
    llm, mock = _llm(settings)
    rec = submit_stage(settings, "translate", llm=llm).submitted
    with caplog.at_level("WARNING", logger="pipeline.batch.ledger"):
        report = translate_stage(settings, llm=llm)
    assert f"{len(rec.keys)} segments are waiting in a submitted batch" in caplog.text
    assert report.requests == _chat(mock) > 0  # an explicit online run still goes ahead
    # the batch's results arrive later: applied harmlessly, nothing is sent again
    assert collect(settings, llm=llm).collected and _chat(mock) == report.requests
    _assert_complete(settings)
