"""The abort policy in the translate stage: a batch whose request keeps failing is recorded
as failed and the other batches still run (translate used to stop at the first failure);
failures in a row stop the rest."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from pipeline.errors import LLMError
from pipeline.llm import make_llm
from pipeline.llm.mock import MockLLM, Recorder
from pipeline.settings import load_settings
from pipeline.stages.parse import parse_stage
from pipeline.stages.translate import translate_stage
from pipeline.store.layout import OutDir
from tests.paths import FIXTURES

DOWN = {"error": {"message": "upstream down", "type": "server_error", "param": None, "code": None}}


def _settings(tmp_path: Path, **llm: object):
    settings = load_settings(
        None,
        out_dir=tmp_path / "out",
        progress="off",
        llm={"provider": "mock", "concurrency": 1, "max_retries": 0, **llm},
        translate={"batch_tokens": 60},  # about one section per request
    )
    parse_stage(settings, [FIXTURES / "translate_digest.md"])
    return settings


def _failing(marker: str | None) -> MockLLM:
    """The mock; every request whose segments hold ``marker`` gets HTTP 500 (None: all do)."""

    def answer(req: dict) -> tuple[int, dict] | None:
        user = req["messages"][-1]["content"]
        return (500, DOWN) if marker is None or marker in user else None

    return MockLLM(recorder=Recorder(answer=answer))


def test_one_failing_batch_does_not_stop_the_others(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    mock = _failing("최소 튜닝")  # one section of 2410.10210
    report = translate_stage(settings, llm=make_llm(settings, mock=mock))
    records = {(r.entry_id, r.index): r for r in OutDir(settings.out_dir).load_translations()}
    failed = [k for k, r in records.items() if any(f.startswith("untranslated") for f in r.flags)]
    assert failed == [("2410.10210", 0)]
    assert "upstream down" in records[("2410.10210", 0)].flags[0]
    assert report.untranslated == 1 and report.exit_code == LLMError.exit_code
    assert report.origins["model"] == 6 and report.translated == 7 and len(records) == 8  # the others
    assert "8 sections: 7 translated, 0 flagged, 1 NOT translated" in report.summary()
    # a later healthy run sends only what failed
    healthy = MockLLM()
    again = translate_stage(settings, llm=make_llm(settings, mock=healthy))
    assert again.exit_code == 0 and again.untranslated == 0
    assert healthy.stats["by_endpoint"]["chat"] == 1


def test_failures_in_a_row_stop_the_rest(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings = _settings(tmp_path, abort_after_failures=2).model_copy(update={"progress": "plain"})
    mock = _failing(None)
    with caplog.at_level(logging.INFO, logger="digest.progress"):
        report = translate_stage(settings, llm=make_llm(settings, mock=mock))
    # the progress counts only finished work; the failures apart
    assert "translate: 0/7 sections" in caplog.text and "(2 failed)" in caplog.text
    assert "translate: 2/7" not in caplog.text
    assert mock.stats["by_endpoint"]["chat"] == 2  # the other batches were not sent
    assert report.stopped.startswith("stopped: 2 requests in a row failed (last: ")
    assert report.exit_code == LLMError.exit_code and report.left == "7 sections not translated"
    assert report.failure.startswith("translate stopped: 2 requests in a row failed (last: ")
    assert report.failure.endswith("upstream down) -- nothing was saved")
    assert "1 translated, 0 flagged, 7 NOT translated (5 not attempted)" in report.summary()
    # every section is in translations.jsonl: translated, or in Korean with why
    records = OutDir(settings.out_dir).load_translations()
    assert len(records) == 8 and sum(1 for r in records if r.flags) == 7
    assert sum("not attempted" in r.flags[0] for r in records if r.flags) == 5
    # the failed requests are journaled as failed, with their reason, and retried by a re-run
    failed = [json.loads(line)["value"] for line in OutDir(settings.out_dir).journal_path("translate").open()]
    assert len(failed) == 2 and all("upstream down" in v["failed"] for v in failed)
    healthy = MockLLM()
    again = translate_stage(settings, llm=make_llm(settings, mock=healthy))
    assert again.exit_code == 0 and again.translated == 8 and not again.stopped


def test_a_batch_without_any_usable_reply_counts_as_failed(tmp_path: Path) -> None:
    """A model that never answers in the schema: each batch ends untranslated within its
    budget, and the stage stops after the failures in a row instead of going on for an hour."""
    settings = _settings(tmp_path, abort_after_failures=2)
    mock = MockLLM("rate=1,kinds=malformed")
    report = translate_stage(settings, llm=make_llm(settings, mock=mock))
    assert report.stopped.startswith(
        "stopped: 2 requests in a row failed (last: no usable reply in 3 requests"
    )
    assert report.untranslated == 7 and report.not_attempted == 5
    assert mock.stats["by_endpoint"]["chat"] == 2 * 3  # two one-section batches, 3 requests each
