"""The stage contract: one abort policy for translate and enrich, reports with summary() and
exit_code, and the shared dry-run estimate."""

from __future__ import annotations

import pytest

from pipeline.errors import ConfigError, DigestError, LLMError
from pipeline.stages.base import AbortPolicy, JobSkipped


def test_a_bad_setting_stops_at_once() -> None:
    policy = AbortPolicy(4)
    policy.succeeded()
    policy.failed(ConfigError("unknown model 'x'"))
    with pytest.raises(JobSkipped):
        policy.check()
    with pytest.raises(ConfigError, match="unknown model 'x' -- fix the setting"):
        policy.raise_if_stopped()


def test_failures_in_a_row_stop_and_a_success_resets_the_count() -> None:
    policy = AbortPolicy(3)
    for _ in range(2):
        policy.failed(LLMError("HTTP 500"))
    policy.succeeded()  # the endpoint is back
    for _ in range(2):
        policy.failed(LLMError("HTTP 500"))
    policy.check()  # 2 in a row < 3: go on
    policy.raise_if_stopped()  # one job succeeded: the failures are recorded, not fatal
    policy.failed(LLMError("HTTP 500"))
    with pytest.raises(JobSkipped):
        policy.check()
    with pytest.raises(LLMError, match=r"HTTP 500 \(3 requests in a row failed; stopped\) -- .*re-run"):
        policy.raise_if_stopped()


def test_every_job_failing_fails_the_stage() -> None:
    policy = AbortPolicy(4)
    policy.failed(LLMError("cannot reach the LLM endpoint"))
    with pytest.raises(LLMError, match="cannot reach the LLM endpoint \\(every request failed\\)"):
        policy.raise_if_stopped()


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
