"""The stage contract: one abort policy for translate and enrich, reports with summary() and
exit_code, and the shared dry-run estimate."""

from __future__ import annotations

import pytest

from pipeline.errors import ConfigError, DigestError, LLMError
from pipeline.stages.base import JobSkipped
from pipeline.stages.policy import AbortPolicy


def test_a_bad_setting_stops_at_once() -> None:
    policy = AbortPolicy(4)
    policy.succeeded()
    policy.failed(ConfigError("unknown model 'x'"))
    with pytest.raises(JobSkipped):
        policy.check()
    with pytest.raises(ConfigError, match="unknown model 'x' -- fix the setting.*finished work is saved"):
        policy.raise_if_fatal(saved=3)
    with pytest.raises(ConfigError, match="nothing was saved"):
        policy.raise_if_fatal(saved=0)


def test_failures_in_a_row_stop_and_a_success_resets_the_count() -> None:
    policy = AbortPolicy(3)
    for _ in range(2):
        policy.failed(LLMError("HTTP 500"))
    policy.succeeded()  # the endpoint is back
    for _ in range(2):
        policy.failed(LLMError("HTTP 500"))
    policy.check()  # 2 in a row < 3: go on
    assert policy.stopped is None and policy.failures == 4
    policy.raise_if_fatal(saved=1)  # failures are recorded, not fatal
    policy.failed(LLMError("HTTP 500"))
    with pytest.raises(JobSkipped):
        policy.check()
    assert policy.stopped == "3 requests in a row failed (last: HTTP 500)"


def test_every_job_failing_is_known() -> None:
    policy = AbortPolicy(4)
    policy.failed(LLMError("cannot reach the LLM endpoint"))
    assert policy.every_request_failed and policy.stopped is None
    policy.succeeded()
    assert not policy.every_request_failed


def test_an_unexpected_exception_is_named_by_its_type_only() -> None:
    err = AbortPolicy(4).failed(RuntimeError("secret request text"))
    assert isinstance(err, DigestError) and "RuntimeError" in str(err) and "secret" not in str(err)


def test_every_stage_report_has_summary_and_exit_code() -> None:
    from pipeline.batch.reports import CollectReport, StatusReport, SubmitReport
    from pipeline.stages.enrich import EnrichReport
    from pipeline.stages.index import IndexReport
    from pipeline.stages.newsletter.stage import NewsletterReport
    from pipeline.stages.parse import ParseReport
    from pipeline.stages.run import RunReport
    from pipeline.stages.translate import TranslateReport

    for report in (
        ParseReport(),
        TranslateReport(),
        EnrichReport(),
        IndexReport(),
        NewsletterReport(),
        RunReport(),
        SubmitReport("translate"),
        CollectReport(),
        StatusReport(),
    ):
        assert isinstance(report.summary(), str) and isinstance(report.exit_code, int), report


def test_abort_policy_knows_whether_the_endpoint_answered():
    """A reply that was unusable means the endpoint works (a later stage may go on); failed
    requests alone mean it does not (a later stage would fail the same way)."""
    from pipeline.errors import LLMError
    from pipeline.stages.policy import AbortPolicy

    down = AbortPolicy(4)
    down.failed(LLMError("HTTP 500"))
    down.failed(ConnectionError("refused"))
    assert down.every_request_failed and not down.endpoint_works

    unusable = AbortPolicy(4)
    unusable.failed(LLMError("HTTP 500"))
    unusable.failed(LLMError("no usable reply"), answered=True)
    assert unusable.every_request_failed and unusable.endpoint_works

    fine = AbortPolicy(4)
    fine.succeeded()
    assert fine.endpoint_works and not fine.every_request_failed


def test_the_run_stops_only_when_the_next_stage_would_fail_too():
    from types import SimpleNamespace

    from pipeline.stages.run import stops_the_run

    assert stops_the_run(SimpleNamespace(failure="x", cost_stop=True, endpoint_works=True))
    assert stops_the_run(SimpleNamespace(failure="x", cost_stop=False, endpoint_works=False))
    assert not stops_the_run(SimpleNamespace(failure="x", cost_stop=False, endpoint_works=True))
    assert stops_the_run(SimpleNamespace(failure="x"))  # a stage that cannot tell: stop
