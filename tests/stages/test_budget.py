"""What a stage may spend (stages/budget.py): the retry token budget keeps the first tries
reserved, the cost limit counts the requests in flight at their worst case, a stop is final,
and the run_jobs/progress machinery counts failures apart and returns at once on Ctrl-C."""

from __future__ import annotations

import threading
import time

import pytest

from pipeline.llm.usage import UsageMeter
from pipeline.progress import Progress
from pipeline.settings import load_settings
from pipeline.stages.base import JobOutcome, run_jobs
from pipeline.stages.budget import Budget, Halt, OverBudget


def _budget(planned: int, *, max_cost: float | None = None, overrun: float = 3.0, meter=None) -> Budget:
    settings = load_settings(
        None,
        llm={
            "max_cost": max_cost,
            "max_token_overrun": overrun,
            "price_input_per_million": 1_000.0,  # $1 per 1000 tokens in, $2 out: easy sums
            "price_output_per_million": 2_000.0,
        },
    )
    return Budget(settings, meter or UsageMeter(), planned)


def test_retries_are_refused_past_the_overrun_and_first_tries_stay_reserved() -> None:
    budget = _budget(100)  # two first tries of 50 planned: 300 tokens in all
    with budget.request(50, 10, first=True):
        pass
    with budget.request(100, 10, first=False):  # 50 + 100 + 50 reserved = 200 <= 300
        pass
    # 150 + 50 reserved + 101 > 300
    with pytest.raises(OverBudget, match=r"3x the 100 planned"), budget.request(101, 10, first=False):
        pass
    with budget.request(50, 10, first=True):  # the reserved first try always goes
        pass
    with budget.request(100, 10, first=False):  # 200 + 0 reserved + 100 = 300: just fits
        pass
    assert budget.retries_refused == 1


def test_the_budget_of_retries_is_counted_in_the_plans_units_not_the_servers() -> None:
    """A server with another tokenizer (and a chat template) reports more prompt tokens than the
    plan counted: that must not spend the retries (seen on llama.cpp with Gemma: the third
    request of a segment was never sent)."""
    budget = _budget(100)  # 300 tokens in all
    with budget.request(100, 10, first=True):
        budget.meter.add_call(160, 10)  # the server's count of the same prompt
    with budget.request(100, 10, first=False):  # ours: 200 <= 300 (the server's: 320)
        budget.meter.add_call(160, 10)
    with budget.request(100, 10, first=False):  # ours: 300, just fits
        pass
    with pytest.raises(OverBudget), budget.request(1, 1, first=False):
        pass


def test_the_cost_limit_counts_what_was_spent_and_the_worst_case_in_flight() -> None:
    meter = UsageMeter()
    meter.add_call(3000, 1000)  # $5 spent before this stage (an earlier stage of `digest run`)
    budget = _budget(0, max_cost=20, meter=meter)
    with (
        budget.request(2000, 2000, first=True),  # worst case $6 in flight: 5 + 6 <= 20
        pytest.raises(Halt, match=r"cost limit: \$5.0000 spent.*\$20 allowed \(--max-cost\)"),
        budget.request(4000, 3000, first=True),  # 5 + 6 + 10 > 20
    ):
        pass
    assert budget.halted and "cost limit" in budget.halted
    with pytest.raises(Halt), budget.request(0, 0, first=True):  # a stop is final, however small
        pass


def test_no_limit_and_free_endpoints_never_stop() -> None:
    budget = _budget(10, max_cost=None)
    with budget.request(10**9, 10**9, first=True):
        pass
    free = load_settings(
        None, llm={"max_cost": 0, "price_input_per_million": 0, "price_output_per_million": 0}
    )
    budget = Budget(free, UsageMeter(), 10)
    for _ in range(3):
        with budget.request(10**6, 10**6, first=True):
            pass
    assert budget.halted is None


def test_cancelled_means_no_request_is_started() -> None:
    budget = _budget(10)
    budget.cancelled.set()
    with pytest.raises(Halt, match="interrupted"), budget.request(1, 1, first=True):
        pass


def test_failed_jobs_are_not_counted_as_done(caplog: pytest.LogCaptureFixture) -> None:
    def fn(n: int) -> int:
        if n % 3 == 0:
            raise RuntimeError("boom")
        return n

    with caplog.at_level("INFO", logger="digest.progress"), Progress(6, "t", mode="plain") as progress:
        outcomes = run_jobs(range(1, 7), fn, concurrency=2, progress=progress)
    assert progress.done == 4 and progress.failed == 2
    assert sorted(o.job for o in outcomes if o.error) == [3, 6]
    assert "t: 4/6 items" in caplog.text and "(2 failed)" in caplog.text


def test_a_job_is_handed_out_only_after_the_outcomes_before_it_were_applied() -> None:
    seen: list[int] = []
    applied: list[int] = []

    def fn(n: int) -> int:
        seen.append(len(applied))
        return n

    run_jobs(range(5), fn, concurrency=1, on_result=lambda o: applied.append(o.job))
    assert seen == [0, 1, 2, 3, 4]


def test_ctrl_c_returns_at_once_and_abandons_the_workers() -> None:
    """KeyboardInterrupt in the calling thread while a job is blocked for a minute: run_jobs
    re-raises at once, sets the cancel flag and runs on_cancel in the background."""
    release = threading.Event()
    cancel = threading.Event()
    closed = threading.Event()
    started = threading.Event()

    def fn(n: int) -> int:
        if n == 0:
            return n
        started.set()
        release.wait(60)  # a request blocked in httpx
        return n

    got: list[JobOutcome] = []

    def on_result(out: JobOutcome) -> None:
        got.append(out)
        started.wait(5)
        raise KeyboardInterrupt  # Ctrl-C arrives in the calling thread

    t0 = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        run_jobs([0, 1, 2], fn, concurrency=2, on_result=on_result, cancel=cancel, on_cancel=closed.set)
    assert time.monotonic() - t0 < 5
    assert cancel.is_set() and closed.wait(5)
    assert [o.job for o in got] == [0]
    release.set()
