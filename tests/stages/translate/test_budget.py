"""The retry budget of translate, in the modes that made a real run against a small local
model explode (issue 14: 541 requests, 57x the prompt tokens, nothing translated): replies
that break the schema every time, ids that never line up, timeouts.  Requests per segment
stay <= translate.max_requests_per_segment and the stage's prompt tokens <= llm.max_token_overrun
x its planned prompt tokens.  Also: max_tokens per batch, the context window, the cost limit."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.errors import ContextLengthError, CostLimitError, LLMError
from pipeline.llm import make_llm
from pipeline.llm.mock import MockLLM, Recorder
from pipeline.settings import load_settings
from pipeline.stages.parse import parse_stage
from pipeline.stages.translate import translate_stage
from pipeline.stages.translate.request import output_limit
from pipeline.store.layout import OutDir
from pipeline.text.hangul import has_hangul
from tests.paths import FIXTURES, SEEDS

DIGEST_003 = SEEDS / "003_b7604eca8e731035.txt"  # 12 entries, 86 Korean sections
SEGMENT = re.compile(r'<segment id="[^"]+">(.*?)</segment>', re.S)


def _settings(tmp_path: Path, digest: Path = DIGEST_003, translate: dict | None = None, **llm: object):
    settings = load_settings(
        None,
        out_dir=tmp_path / "out",
        progress="off",
        llm={"provider": "mock", "max_retries": 0, "abort_after_failures": 1000, **llm},
        translate=translate or {},
    )
    parse_stage(settings, [digest])
    return settings


def _segments_per_request(recorder: Recorder) -> list[list[str]]:
    return [SEGMENT.findall(recorder.user_text(i).split("</problems>")[-1]) for i in range(len(recorder))]


def _run(settings, mock: MockLLM):
    planned = translate_stage(settings, dry_run=True)
    report = translate_stage(settings, llm=make_llm(settings, mock=mock))
    return planned, report


def _assert_within_budget(planned, report, recorder: Recorder, limit: int = 3) -> Counter[str]:
    per_segment = Counter(text for segs in _segments_per_request(recorder) for text in segs)
    assert per_segment and max(per_segment.values()) <= limit, per_segment.most_common(3)
    assert report.prompt_tokens <= 3 * planned.prompt_tokens
    return per_segment


def test_replies_that_never_parse_stay_within_the_budget(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    mock = MockLLM("rate=1,kinds=malformed", recorder=Recorder())
    planned, report = _run(settings, mock)
    per_segment = _assert_within_budget(planned, report, mock.recorder)
    assert len(per_segment) == planned.segments_sent == 86
    # before the budget: 508 requests and 429,510 prompt tokens (61x the plan) for this digest
    assert report.requests == len(mock.recorder) <= 3 * planned.requests + 16
    assert report.untranslated == 86 and report.translated == report.flagged == 0
    assert "86 sections: 0 translated, 0 flagged, 86 NOT translated" in report.summary()
    # every request asked for room for its own reply, not a flat 4096 tokens
    for i, segs in enumerate(_segments_per_request(mock.recorder)):
        assert mock.recorder.requests[i]["max_tokens"] < 4096 or len(segs) > 30


def test_ids_that_never_line_up_stay_within_the_budget(tmp_path: Path) -> None:
    def extra_item(request: dict, content: str) -> str:
        data = json.loads(content)
        data["translations"].append({"id": "999", "text": "an item nobody asked for"})
        return json.dumps(data)

    settings = _settings(tmp_path)
    mock = MockLLM(recorder=Recorder(edit=extra_item))
    planned, report = _run(settings, mock)
    _assert_within_budget(planned, report, mock.recorder)
    assert report.untranslated == 86 and report.regroups >= planned.requests


def test_timeouts_fail_the_batch_without_retrying_it_in_pieces(tmp_path: Path) -> None:
    settings = _settings(tmp_path, max_retries=1, concurrency=1, abort_after_failures=3)
    mock = MockLLM("rate=1,kinds=timeout", recorder=Recorder())
    planned, report = _run(settings, mock)
    # 3 batches, each one logical request that the SDK tried twice, then the stage stopped
    assert mock.stats["by_endpoint"]["chat"] == 3 * 2 and report.http_retries == 6
    assert report.stopped.startswith("stopped: 3 requests in a row failed (last: request to ")
    assert report.untranslated == 86 and report.not_attempted > 0 and report.exit_code == LLMError.exit_code


def test_a_model_that_mostly_fails_leaves_flags_not_a_bill(tmp_path: Path) -> None:
    """Faults of every kind at a high rate: what the budget cannot fix is flagged or left in
    Korean with its reason, never dropped, and every segment took <= 3 requests."""
    settings = _settings(tmp_path)
    mock = MockLLM("rate=0.6,kinds=malformed+truncate+korean+refusal,seed=3", recorder=Recorder())
    planned, report = _run(settings, mock)
    _assert_within_budget(planned, report, mock.recorder)
    assert report.translated + report.flagged + report.untranslated == report.sections == 86
    records = OutDir(settings.out_dir).load_translations()
    assert len(records) == 86 and all(r.text for r in records)
    assert all(r.flags for r in records if has_hangul(r.text))


def test_the_budget_is_a_setting(tmp_path: Path) -> None:
    settings = _settings(tmp_path, translate={"max_requests_per_segment": 1})
    mock = MockLLM("rate=1,kinds=malformed", recorder=Recorder())
    planned, report = _run(settings, mock)
    _assert_within_budget(planned, report, mock.recorder, limit=1)
    assert len(mock.recorder) == planned.requests  # first tries only


def test_over_the_context_window_the_batch_is_halved_and_a_long_segment_split(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server refuses a request over its window (ContextLengthError): never sent again as
    is; halves down to one segment, and a segment still too long alone is split by sentences."""
    settings = _settings(tmp_path, digest=FIXTURES / "translate_digest.md")
    llm = make_llm(settings, mock=MockLLM())
    sizes: list[tuple[int, int]] = []
    real = llm.complete_json

    def small_window(**kw):
        segs = SEGMENT.findall(kw["messages"][1]["content"])
        sizes.append((len(segs), max(len(s) for s in segs)))
        if len(segs) > 2 or max(len(s) for s in segs) > 150:
            raise ContextLengthError("This model's maximum context length is 512 tokens")
        return real(**kw)

    monkeypatch.setattr(llm, "complete_json", small_window)
    report = translate_stage(settings, llm=llm)
    assert report.exit_code == 0 and report.untranslated == 0
    records = {(r.entry_id, r.index): r for r in OutDir(settings.out_dir).load_translations()}
    assert all(not has_hangul(r.text) for r in records.values())
    long = records[("2410.13618", 1)]  # ten sentences: sent in parts, joined back
    assert len(long.text) > 200 and not long.flags
    assert sizes[0][0] == 7 and any(n == 1 and longest <= 150 for n, longest in sizes)
    assert all(sizes.count(s) <= 3 for s in set(sizes))


def test_max_tokens_follows_the_expected_reply() -> None:
    from pipeline.text.segments import Segment

    small = [Segment("k", "가" * 10, "e", 0, tokens=20)]
    big = [Segment(f"k{i}", "가", "e", i, tokens=400) for i in range(3)]
    assert output_limit(small, 4096) == 2 * (10 + int(20 * 0.8) + 12) + 100
    assert output_limit(big, 4096) == 2 * (10 + 3 * (320 + 12)) + 100 < 4096
    assert output_limit(big * 10, 4096) == 4096  # capped by llm.max_output_tokens


def test_the_cost_limit_stops_the_stage_and_a_rerun_resumes(tmp_path: Path) -> None:
    settings = _settings(tmp_path, translate={"batch_tokens": 300}, concurrency=1, max_cost=0.004)
    mock = MockLLM()
    planned, report = _run(settings, mock)
    assert planned.cost > 0.004 and planned.requests > 6
    assert report.cost_stop and report.exit_code == CostLimitError.exit_code == 6
    assert report.cost <= 0.004 and 0 < report.requests < planned.requests
    assert report.failure.startswith("translate stopped at the cost limit: $0.00")
    assert "(--max-cost) -- finished work is saved" in report.failure
    assert f"{report.untranslated} NOT translated ({report.not_attempted} not attempted)" in report.summary()
    assert report.translated > 0 and report.untranslated == report.not_attempted > 0
    # a run without the limit sends only what is left
    go_on = settings.model_copy(update={"llm": settings.llm.model_copy(update={"max_cost": None})})
    rest = MockLLM()
    again = translate_stage(go_on, llm=make_llm(go_on, mock=rest))
    assert again.exit_code == 0 and again.translated == 86
    assert rest.stats["by_endpoint"]["chat"] == planned.requests - report.requests


def test_a_free_endpoint_never_reaches_the_cost_limit(tmp_path: Path) -> None:
    settings = _settings(
        tmp_path,
        digest=FIXTURES / "translate_digest.md",
        max_cost=0,
        price_input_per_million=0,
        price_output_per_million=0,
    )
    report = translate_stage(settings, llm=make_llm(settings, mock=MockLLM()))
    assert report.exit_code == 0 and report.translated == 8 and not report.stopped


def test_cli_max_cost_says_what_is_left_and_how_to_resume(tmp_path: Path) -> None:
    out = tmp_path / "out"
    runner = CliRunner()
    assert runner.invoke(main, ["parse", str(DIGEST_003), "--out", str(out)]).exit_code == 0
    args = ["translate", "--llm", "mock", "--out", str(out), "--concurrency", "1", "--max-cost", "0.002"]
    res = runner.invoke(main, args)
    assert res.exit_code == 6, res.output
    assert "error: translate stopped at the cost limit" in res.output
    left = re.search(r"left: (\d+) sections not translated -- to resume, run again: (.*)", res.output)
    assert left and int(left.group(1)) > 0
    assert left.group(2) == "digest " + " ".join(args)
    assert "estimate (~$" in res.output and "above the cost limit $0.002" in res.output
    bad = runner.invoke(main, ["translate", "--llm", "mock", "--out", str(out), "--max-cost", "-1"])
    assert bad.exit_code == 2 and "--max-cost" in bad.output
