"""The one factory for the LLM client (:func:`make_llm`), and the thread-safe ``LLM`` facade
every stage uses, whatever the provider (``registry.py``)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
import openai
from pydantic import BaseModel

from ..errors import ConfigError, LLMError
from ..logsafe import redact, register_secret
from .base import Completion, HttpOptions
from .registry import get_provider
from .structured import (
    StructuredResult,
    check_structured,
    json_schema_format,
    reask_messages,
    with_schema_in_system,
)
from .tokens import ensure_tiktoken_cache
from .usage import HttpTracker, UsageMeter

if TYPE_CHECKING:
    from ..settings import LLMSettings, Settings

log = logging.getLogger(__name__)


def make_llm(settings: Settings, **options: Any) -> LLM:
    """Build the ``LLM`` for ``settings.llm`` through its provider.  ``options`` go to the
    provider: ``transport=`` (an ``httpx`` transport, for tests) for any provider, and
    ``mock=MockLLM(...)`` for the mock."""
    cfg = settings.llm
    ensure_tiktoken_cache(settings.tiktoken_cache_dir)
    meter = UsageMeter()
    tracker = HttpTracker(meter)
    http = HttpOptions(
        event_hooks={"request": [tracker.on_request], "response": [tracker.on_response]},
        timeout=httpx.Timeout(cfg.timeout, connect=min(10.0, cfg.timeout)),
    )
    if cfg.api_key:
        register_secret(cfg.api_key.get_secret_value())
    parts = get_provider(cfg.provider).build(settings, http, **options)
    return LLM(cfg, parts.client, meter, tracker, parts.base_url)


class LLM:
    """Thread-safe facade over ``openai.OpenAI``; one instance is shared by worker threads."""

    def __init__(
        self,
        settings: LLMSettings,
        client: openai.OpenAI,
        meter: UsageMeter,
        tracker: HttpTracker,
        base_url: str,
    ) -> None:
        self.settings = settings
        self.client = client
        self.meter = meter
        self._tracker = tracker
        self.base_url = base_url
        parts = urlsplit(base_url)
        self.host = parts.netloc or base_url
        self._json_schema_rejected = False

    @property
    def model(self) -> str:
        return self.settings.chat_model

    # -- errors -----------------------------------------------------------------------

    def _map_error(self, exc: Exception, model: str | None) -> Exception:
        host = self.host
        if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
            return ConfigError(f"the endpoint rejected the API key ({host}, HTTP {exc.status_code})")
        if isinstance(exc, openai.NotFoundError) and model is not None:
            return ConfigError(f"unknown model {model!r} at {host}")
        if isinstance(exc, openai.APITimeoutError):
            return LLMError(
                f"request to {host} timed out after {self.settings.max_retries} retries "
                f"(timeout {self.settings.timeout:g}s)"
            )
        if isinstance(exc, openai.APIConnectionError):
            return LLMError(f"cannot reach the LLM endpoint at {host}")
        if isinstance(exc, openai.APIStatusError):
            return LLMError(f"{host} returned HTTP {exc.status_code}: {_short_reason(exc)}")
        if isinstance(exc, openai.OpenAIError):
            return LLMError(f"LLM call to {host} failed: {redact(type(exc).__name__)}")
        return exc

    @contextmanager
    def _guard(self, model: str | None) -> Iterator[None]:
        with self._tracker.call():
            try:
                yield
            except openai.OpenAIError as exc:
                raise self._map_error(exc, model) from None

    # -- chat -------------------------------------------------------------------------

    def chat_body(self, messages: list[dict], **params: Any) -> dict[str, Any]:
        """The body of one chat completion request: what is sent online and what a Batch
        API request line carries."""
        if _is_reasoning_model(self.model):  # o-series / gpt-5: new token parameter, fixed temperature
            params["max_completion_tokens"] = params.pop("max_tokens", None)
            params.pop("temperature", None)
        params = {k: v for k, v in params.items() if v is not None}
        return {"model": self.model, "messages": messages, **params}

    def _create(self, messages: list[dict], **params: Any) -> Any:
        return self.client.chat.completions.create(**self.chat_body(messages, **params))

    def complete(
        self,
        messages: list[dict],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
        response_format: dict | None = None,
    ) -> Completion:
        with self._guard(self.model):
            resp = self._create(
                messages,
                max_tokens=max_tokens or self.settings.max_output_tokens,
                temperature=self.settings.temperature if temperature is None else temperature,
                response_format=response_format,
            )
        return self._to_completion(resp)

    def _to_completion(self, resp: Any) -> Completion:
        usage = getattr(resp, "usage", None)
        pt = int(getattr(usage, "prompt_tokens", 0) or 0)
        ct = int(getattr(usage, "completion_tokens", 0) or 0)
        self.meter.add_call(pt, ct)
        if not resp.choices:
            return Completion("", "error", pt, ct)
        choice = resp.choices[0]
        msg = choice.message
        return Completion(
            text=msg.content or "",
            finish_reason=choice.finish_reason or "stop",
            prompt_tokens=pt,
            completion_tokens=ct,
            refusal=getattr(msg, "refusal", None),
        )

    def _json_mode(self) -> str:
        mode = self.settings.json_mode
        if mode == "auto" and self._json_schema_rejected:
            return "json_object"
        return "json_schema" if mode in ("auto", "json_schema") else "json_object"

    def structured_body(
        self,
        messages: list[dict],
        model_cls: type[BaseModel],
        *,
        schema_name: str,
        max_tokens: int | None = None,
    ) -> dict[str, Any]:
        """The first-attempt request of :meth:`complete_json`, as a body (for the Batch API)."""
        params: dict[str, Any] = {
            "max_tokens": max_tokens or self.settings.max_output_tokens,
            "temperature": self.settings.temperature,
        }
        if self._json_mode() == "json_schema":
            return self.chat_body(
                messages, response_format=json_schema_format(model_cls, schema_name), **params
            )
        return self.chat_body(
            with_schema_in_system(messages, model_cls, schema_name),
            response_format={"type": "json_object"},
            **params,
        )

    def _complete_structured(
        self, messages: list[dict], model_cls: type[BaseModel], schema_name: str, max_tokens: int | None
    ) -> Completion:
        params = {
            "max_tokens": max_tokens or self.settings.max_output_tokens,
            "temperature": self.settings.temperature,
        }
        with self._guard(self.model):
            if self._json_mode() == "json_schema":
                try:
                    resp = self._create(
                        messages, response_format=json_schema_format(model_cls, schema_name), **params
                    )
                    return self._to_completion(resp)
                except openai.BadRequestError as exc:
                    if self.settings.json_mode != "auto" or not _rejects_json_schema(exc):
                        raise
                    log.warning(
                        "%s does not accept json_schema output (%s); using json_object from now on",
                        self.host,
                        _short_reason(exc),
                    )
                    self._json_schema_rejected = True
            resp = self._create(
                with_schema_in_system(messages, model_cls, schema_name),
                response_format={"type": "json_object"},
                **params,
            )
        return self._to_completion(resp)

    def complete_json(
        self,
        messages: list[dict],
        model_cls: type[BaseModel],
        *,
        schema_name: str,
        max_reasks: int = 1,
        max_tokens: int | None = None,
    ) -> StructuredResult:
        """Structured output validated by ``model_cls``; bad output is re-asked, never raised."""
        convo = list(messages)
        errors: list[str] = []
        refused = truncated = False
        raw = ""
        tokens = max_tokens
        for attempt in range(1, max_reasks + 2):
            comp = self._complete_structured(convo, model_cls, schema_name, tokens)
            raw = comp.text
            value, errs = check_structured(comp, model_cls)
            refused = refused or bool(comp.refusal)
            if comp.finish_reason == "length" and not comp.refusal:
                truncated = True
                limit = tokens or self.settings.max_output_tokens
                tokens = min(limit * 2, max(limit, self.settings.max_output_tokens * 2))
            if value is not None:
                return StructuredResult(value, True, errors, attempt, refused, truncated, raw)
            errors.extend(f"attempt {attempt}: {e}" for e in errs)
            self.meter.add_invalid_reply()
            log.debug("structured output attempt %d failed: %s", attempt, "; ".join(errs))
            convo = [
                *messages,
                *reask_messages(
                    raw, errs, truncated=comp.finish_reason == "length", refused=bool(comp.refusal)
                ),
            ]
        return StructuredResult(None, False, errors, max_reasks + 1, refused, truncated, raw)

    def stream(
        self,
        messages: list[dict],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
    ) -> Iterator[str]:
        """Yield text deltas as they arrive; usage is counted when the stream ends."""
        with self._guard(self.model):
            stream = self._create(
                messages,
                max_tokens=max_tokens or self.settings.max_output_tokens,
                temperature=self.settings.temperature if temperature is None else temperature,
                stream=True,
                stream_options={"include_usage": True},
            )
            pt = ct = 0
            try:
                for chunk in stream:
                    if getattr(chunk, "usage", None):
                        pt = chunk.usage.prompt_tokens or 0
                        ct = chunk.usage.completion_tokens or 0
                    for choice in chunk.choices or ():
                        delta = choice.delta.content if choice.delta else None
                        if delta:
                            yield delta
            finally:
                stream.close()
                self.meter.add_call(pt, ct)

    # -- other endpoints ----------------------------------------------------------------

    def embed(
        self, texts: list[str], model: str | None = None, *, batch_size: int = 256
    ) -> list[list[float]]:
        name = model or self.settings.embedding_model
        out: list[list[float]] = []
        with self._guard(name):
            for start in range(0, len(texts), batch_size):
                resp = self.client.embeddings.create(model=name, input=texts[start : start + batch_size])
                data = sorted(resp.data, key=lambda d: d.index)
                out.extend(list(d.embedding) for d in data)
                usage = getattr(resp, "usage", None)
                self.meter.add_call(getattr(usage, "prompt_tokens", 0) or 0, 0)
        return out

    def list_models(self) -> list[str]:
        with self._guard(self.model):
            names = sorted(m.id for m in self.client.models.list())
        self.meter.add_call()
        return names

    @contextmanager
    def raw_call(self) -> Iterator[None]:
        """For helpers that call ``self.client`` directly (batch API): same counting and errors."""
        with self._guard(None):
            yield


def _rejects_json_schema(exc: openai.BadRequestError) -> bool:
    """Is this 400 about the response format (not, say, the context length)?"""
    body = exc.body if isinstance(exc.body, dict) else {}
    err = body.get("error", body) if isinstance(body, dict) else {}
    text = f"{err.get('param') if isinstance(err, dict) else ''} {exc.message}".lower()
    return any(
        k in text for k in ("response_format", "json_schema", "schema", "json_object", "not supported")
    )


def _is_reasoning_model(name: str) -> bool:
    n = name.lower().split("/")[-1]
    return n.startswith(("o1", "o3", "o4", "gpt-5"))


def _short_reason(exc: openai.APIStatusError) -> str:
    body = exc.body
    msg = ""
    if isinstance(body, dict):
        err = body.get("error", body)
        msg = str(err.get("message") or err.get("code") or "") if isinstance(err, dict) else str(err)
    msg = " ".join(msg.split())[:200] or getattr(exc.response, "reason_phrase", "") or "error"
    return redact(msg)
