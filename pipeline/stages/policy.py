"""The one abort policy of the LLM stages (translate, enrich, the newsletter intros), and how
they report a failure as a whole and what they spent."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, DigestError, LLMError
from ..llm.usage import estimate_cost
from .base import JobSkipped

if TYPE_CHECKING:
    from ..settings import Settings


class AbortPolicy:
    """When an LLM stage stops early.  A failed job (its request failed even after the SDK's
    retries, or no reply of it was usable) is recorded as failed and the stage goes on,
    except:

    - a bad setting (:class:`ConfigError`: unknown model, rejected key) stops at once
      (:attr:`fatal`; the stage raises it, exit 2);
    - ``limit`` failed jobs in a row (``llm.abort_after_failures``) stop the rest
      (:attr:`stopped`): the endpoint is down, or the model cannot do the task, and every
      other job would only fail the same way, each after its own retries.

    Jobs that finished are journaled by the stage, so a re-run resumes; the stage reports
    what is left.  Job functions call :meth:`check` first.
    """

    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)
        self.in_a_row = 0
        self.ok = 0
        self.failures = 0
        self.answered = 0  # failed jobs whose endpoint answered (the reply was unusable)
        self.last: DigestError | None = None
        self.fatal: ConfigError | None = None
        self.stopped: str | None = None  # why the rest was not sent
        self.skipped = 0  # jobs not sent because of it

    def check(self) -> None:
        """In a job function, before its work: skip the job once the run is stopping."""
        if self.fatal is not None or self.stopped is not None:
            self.skipped += 1
            raise JobSkipped()

    @property
    def stopped_early(self) -> str | None:
        """Why the stage stopped, when that left jobs unsent (None when every job was tried)."""
        return self.stopped if self.skipped else None

    def succeeded(self) -> None:
        self.in_a_row = 0
        self.ok += 1

    def failed(self, exc: BaseException, *, answered: bool = False) -> DigestError:
        """Record a failed job; returns the error to report for it.  ``answered``: the endpoint
        answered, but no reply was usable (the model cannot do the task), as opposed to a
        request that failed (endpoint down, HTTP errors, timeouts)."""
        # an unexpected exception is named by its type only: its text may hold request data
        err = exc if isinstance(exc, DigestError) else LLMError(f"LLM call failed: {type(exc).__name__}")
        self.in_a_row += 1
        self.failures += 1
        self.answered += answered
        self.last = err
        if isinstance(err, ConfigError):
            self.fatal = self.fatal or err
        elif self.in_a_row >= self.limit and self.stopped is None:
            self.stopped = f"{self.in_a_row} requests in a row failed (last: {err})"
        return err

    @property
    def every_request_failed(self) -> bool:
        return self.last is not None and not self.ok

    @property
    def endpoint_works(self) -> bool:
        """Did the endpoint answer at all (a usable reply, or an unusable one)?  When it did,
        a later stage can still go on; when every request failed, it would fail the same way."""
        return bool(self.ok or self.answered)

    def raise_if_fatal(self, saved: int) -> None:
        """After the jobs: a bad setting stops the stage with a clean error (exit 2)."""
        if self.fatal is not None:
            raise ConfigError(f"{self.fatal} -- fix the setting, then re-run: {saved_note(saved)}")


def stage_failure(stage: str, stopped: str, all_failed: str, saved: int, unit: str) -> str:
    """Why an LLM stage failed as a whole ("" when it did not): it stopped early, or every
    request failed; and whether anything was saved."""
    why = stopped or (f"failed: every request failed (last: {all_failed})" if all_failed else "")
    return f"{stage} {why} -- {saved_note(saved, unit)}" if why else ""


def record_usage(report: Any, before: dict[str, Any], after: dict[str, Any], settings: Settings) -> None:
    """Set ``report``'s requests, prompt and completion tokens and cost: what the LLM client's
    meter counted between the ``before`` and ``after`` snapshots (the stage's own spending)."""
    report.requests = after["requests"] - before["requests"]
    report.prompt_tokens = after["prompt_tokens"] - before["prompt_tokens"]
    report.completion_tokens = after["completion_tokens"] - before["completion_tokens"]
    report.cost = estimate_cost(report.prompt_tokens, report.completion_tokens, settings.llm)


def saved_note(saved: int, unit: str = "results") -> str:
    """Says whether the run saved anything: "finished work is saved" only when it did."""
    if saved:
        return f"finished work is saved ({saved} {unit} journaled)"
    return "nothing was saved"
