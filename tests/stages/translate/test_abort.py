"""The abort policy in the translate stage: a batch whose request keeps failing is recorded
as failed and the other batches still run (translate used to stop at the first failure);
failures in a row stop the rest."""

from __future__ import annotations

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
    assert report.origins["model"] == 7 and len(records) == 8  # every other section translated
    # a later healthy run sends only what failed
    healthy = MockLLM()
    again = translate_stage(settings, llm=make_llm(settings, mock=healthy))
    assert again.exit_code == 0 and again.untranslated == 0
    assert healthy.stats["by_endpoint"]["chat"] == 1


def test_failures_in_a_row_stop_the_rest(tmp_path: Path) -> None:
    settings = _settings(tmp_path, abort_after_failures=2)
    mock = _failing(None)
    with pytest.raises(LLMError, match=r"2 requests in a row failed; stopped\) -- .*re-run to resume"):
        translate_stage(settings, llm=make_llm(settings, mock=mock))
    assert mock.stats["by_endpoint"]["chat"] == 2  # the other batches were not sent
    assert not OutDir(settings.out_dir).translations_path.exists()
