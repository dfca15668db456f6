"""SDK errors and error bodies as this package's errors, with a message that says what to do.

- the key rejected, the model unknown (naming the models the server has), no credit left:
  :class:`ConfigError` (the stage stops at once);
- the prompt longer than the context window, whatever the server's wording:
  :class:`ContextLengthError` (the stage splits the batch; never retried as is);
- the structured-output mode refused, at any status: :class:`FormatRejected` (the chain
  steps down);
- anything else: :class:`LLMError` naming the host and the server's reason, never the key.
"""

from __future__ import annotations

import time
from typing import Any

import openai

from ..errors import ConfigError, ContextLengthError, DigestError, LLMError
from ..logsafe import redact
from .quirks import (
    context_window_from,
    error_text,
    is_context_length,
    is_model_not_found,
    is_quota,
    rejects_format,
)


class FormatRejected(LLMError):
    """The server refused the ``response_format`` of the request (any status)."""

    def __init__(self, message: str, detail: str) -> None:
        super().__init__(message)
        self.detail = detail


def short(text: str, limit: int = 200) -> str:
    return redact(" ".join(str(text).split())[:limit])


def reason_of(exc: openai.APIStatusError) -> str:
    body = exc.body
    msg = ""
    if isinstance(body, dict):
        err = body.get("error", body)
        msg = str(err.get("message") or err.get("code") or "") if isinstance(err, dict) else str(err)
        if not msg and isinstance(body.get("detail"), list | str):
            msg = error_text(body["detail"])
    elif isinstance(body, str):
        msg = body
    return short(msg) or getattr(exc.response, "reason_phrase", "") or "error"


def status_error(
    status: int,
    text: str,
    reason: str,
    *,
    host: str,
    model: str | None,
    served: list[str] | None,
    sent_format: bool,
    retry_after: float | None = None,
    max_retry_after: float | None = None,
) -> DigestError:
    """The error for a failed request: HTTP ``status``, the body's words ``text``."""
    if status in (401, 403):
        return ConfigError(f"the endpoint rejected the API key ({host}, HTTP {status})")
    if is_context_length(status, text):
        err = ContextLengthError(
            f"the request exceeds the context window at {host} (HTTP {status}: {reason})"
        )
        err.context_window = context_window_from(text)
        return err
    if model is not None and is_model_not_found(status, text):
        have = f"; it serves: {', '.join(served[:20])}" if served else ""
        return ConfigError(f"unknown model {model!r} at {host}{have} (set --model / llm.chat_model)")
    if status == 404 and model is not None:
        return ConfigError(
            f"{host} has no chat completions endpoint here (HTTP 404: {reason}): "
            "is the base URL right? It usually ends in /v1"
        )
    if rejects_format(status, text, sent_format=sent_format):
        return FormatRejected(f"{host} refused the structured-output mode (HTTP {status}: {reason})", reason)
    if is_quota(status, text):
        return ConfigError(f"the account at {host} is out of credit or quota (HTTP {status}: {reason})")
    if (
        status == 429
        and retry_after is not None
        and max_retry_after is not None
        and retry_after > max_retry_after
    ):
        return LLMError(
            f"{host} is rate limiting (HTTP 429) and asks to wait {retry_after:g} s, longer than "
            f"llm.max_retry_after ({max_retry_after:g} s): try again later"
        )
    return LLMError(f"{host} returned HTTP {status}: {reason}")


def map_sdk_error(
    exc: Exception,
    *,
    host: str,
    model: str | None,
    served: list[str] | None,
    sent_format: bool,
    timeout: float,
    retries: int,
    max_retry_after: float,
) -> Exception:
    if isinstance(exc, openai.APITimeoutError):
        return LLMError(f"request to {host} timed out after {retries} retries (timeout {timeout:g}s)")
    if isinstance(exc, openai.APIConnectionError):
        return LLMError(f"cannot reach the LLM endpoint at {host}")
    if isinstance(exc, openai.APIStatusError):
        return status_error(
            exc.status_code,
            error_text(exc.body, exc.message),
            reason_of(exc),
            host=host,
            model=model,
            served=served,
            sent_format=sent_format,
            retry_after=retry_after_of(exc.response),
            max_retry_after=max_retry_after,
        )
    if isinstance(exc, openai.APIError):  # an error event inside a stream (HTTP 200)
        text = error_text(exc.body, exc.message)
        if is_context_length(400, text):
            err = ContextLengthError(
                f"the request exceeds the context window at {host}: {short(exc.message)}"
            )
            err.context_window = context_window_from(text)
            return err
        return LLMError(f"{host} reported an error during the reply: {short(exc.message)}")
    if isinstance(exc, openai.OpenAIError):
        return LLMError(f"LLM call to {host} failed: {redact(type(exc).__name__)}")
    return exc


def model_not_found(exc: Exception) -> bool:
    return isinstance(exc, openai.APIStatusError) and is_model_not_found(
        exc.status_code, error_text(exc.body, exc.message)
    )


def retry_after_of(response: Any) -> float | None:
    """Seconds a 429/503 asks to wait (``retry-after-ms``, then ``retry-after``), or None."""
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return float(value) / divisor
        except ValueError:
            continue
    return None


def body_error(resp: Any) -> tuple[int, str, str] | None:
    """An error object inside an HTTP 200 reply (OpenRouter: ``{"error": {...}}`` and no
    choices): (the status it stands for, its words, its message), or None."""
    extra = getattr(resp, "model_extra", None) or {}
    err = extra.get("error") if isinstance(extra, dict) else None
    if err is None:
        err = getattr(resp, "error", None)
    if not err:
        return None
    code = err.get("code") if isinstance(err, dict) else None
    try:
        status = int(code) if code is not None else 500
    except (TypeError, ValueError):
        status = 400 if isinstance(code, str) and code else 500
    message = str(err.get("message") or "") if isinstance(err, dict) else str(err)
    return status, error_text(err), short(message) or "error"


def create_checked(
    sdk: openai.OpenAI,
    body: dict[str, Any],
    timeout: Any,
    retries: int,
    *,
    host: str,
    served: list[str] | None,
) -> Any:
    """One chat completion; an error object inside an HTTP 200 (OpenRouter: the SDK raises
    nothing, ``choices`` is None) is raised as the error it stands for, after ``retries``
    retries with backoff when its code says 429 or 5xx."""
    for attempt in range(retries + 1):
        resp = sdk.chat.completions.create(**body, timeout=timeout)
        err = body_error(resp)
        if err is None:
            return resp
        status, text, reason = err
        if (status == 429 or status >= 500) and attempt < retries:
            time.sleep(min(8.0, 0.5 * 2**attempt))
            continue
        mapped = status_error(
            status, text, reason, host=host, model=body.get("model"), served=served,
            sent_format="response_format" in body,
        )  # fmt: skip
        if type(mapped) is LLMError:
            raise LLMError(f"{mapped} (an error inside an HTTP 200 reply)")
        raise mapped
    raise AssertionError("unreachable")
