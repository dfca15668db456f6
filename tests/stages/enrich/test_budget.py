"""Enrich within the retry budget: at most enrich.max_requests_per_entry requests per entry
whatever the model answers, a paper over the context window shortened once (never sent again
as is), honest counts, and the cost limit."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.errors import ContextLengthError
from pipeline.llm import make_llm
from pipeline.llm.mock import MockLLM, Recorder
from pipeline.settings import load_settings
from pipeline.stages.enrich import enrich_stage
from pipeline.stages.parse import parse_stage
from pipeline.store.layout import OutDir
from tests.paths import FIXTURES

FIXTURE = FIXTURES / "enrich_digest.md"  # 4 entries


def _settings(tmp_path: Path, **llm: object):
    settings = load_settings(
        None,
        out_dir=tmp_path / "out",
        progress="off",
        llm={"provider": "mock", "concurrency": 1, "max_retries": 0, "abort_after_failures": 100, **llm},
    )
    parse_stage(settings, [FIXTURE])
    return settings


def _paper_ids(recorder: Recorder) -> list[str]:
    out = []
    for i in range(len(recorder)):
        user = recorder.requests[i]["messages"][1]["content"]
        out.append(user.split('"', 2)[1])  # <paper id="...">
    return out


@pytest.mark.parametrize("kinds", ["malformed", "truncate", "malformed+truncate+korean+refusal"])
def test_at_most_three_requests_per_entry_whatever_the_reply(tmp_path: Path, kinds: str) -> None:
    settings = _settings(tmp_path)
    mock = MockLLM(f"rate=1,kinds={kinds},seed=2", recorder=Recorder())
    report = enrich_stage(settings, llm=make_llm(settings, mock=mock))
    per_entry = {i: _paper_ids(mock.recorder).count(i) for i in set(_paper_ids(mock.recorder))}
    assert len(per_entry) == 4 and max(per_entry.values()) <= 3, per_entry
    assert report.requests == len(mock.recorder) <= 12
    assert report.llm_ok + report.llm_failed == 4 and report.llm_failed >= 1
    assert report.left == f"{report.llm_failed} entries without LLM fields"
    assert f"{report.llm_failed} failed" in report.summary()
    # failures are journaled as failed, and are not results: a healthy re-run asks only for them
    healthy = MockLLM()
    again = enrich_stage(settings, llm=make_llm(settings, mock=healthy))
    assert again.llm_failed == 0 and healthy.stats["by_endpoint"]["chat"] == report.llm_failed


def test_a_paper_over_the_context_window_is_shortened_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings(tmp_path)
    llm = make_llm(settings, mock=MockLLM())
    real = llm.complete_json
    sent: list[str] = []

    def small_window(**kw):
        user = kw["messages"][1]["content"]
        sent.append(user)
        if len(user) > 700:
            raise ContextLengthError("This model's maximum context length is 512 tokens")
        return real(**kw)

    monkeypatch.setattr(llm, "complete_json", small_window)
    report = enrich_stage(settings, llm=llm)
    metas = {m.entry_id: m for m in OutDir(settings.out_dir).load_metadata()}
    block = metas["2406.02657"]  # nine long bullets: shortened, then answered
    assert block.llm_status == "ok" and "llm_input_shortened" in block.flags
    shortened = [u for u in sent if u.startswith('<paper id="2406.02657">')]
    assert len(shortened) == 2 and len(shortened[1]) <= len(shortened[0]) // 2 + 200
    assert " ..." in shortened[1] and shortened[1].endswith("</paper>")
    assert report.shortened >= 1 and "shortened to fit the model's context window" in report.summary()
    # still too long once shortened: failed with why, never sent a third time
    assert all(sent.count(u) == 1 for u in sent)


def test_the_cost_limit_stops_enrich(tmp_path: Path) -> None:
    settings = _settings(tmp_path, max_cost=0.0015)
    mock = MockLLM()
    report = enrich_stage(settings, llm=make_llm(settings, mock=mock))
    assert report.cost_stop and report.exit_code == 6
    assert 0 < report.llm_ok < 4 and report.llm_not_attempted == 4 - report.llm_ok
    assert report.failure.startswith("enrich stopped at the cost limit") and "finished work is saved" in (
        report.failure
    )
    metas = OutDir(settings.out_dir).load_metadata()
    assert len(metas) == 4 and sum("llm_not_attempted" in m.flags for m in metas) == report.llm_not_attempted
