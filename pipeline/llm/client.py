"""The one factory for the LLM client (:func:`make_llm`), and the thread-safe ``LLM`` facade
every stage uses, whatever the provider (``registry.py``).

The facade learns what its endpoint can do lazily, just before its first chat request: the
capabilities are built in (OpenAI, Azure, the mock), cached (``OUT/cache/capabilities.json``)
or probed once (``probe.py``).  They set the structured-output mode (``chain.py``), fold
system messages into the user message where the server drops them, bound the requests in
flight to what the server runs at once, and size each request's timeout from its
``max_tokens``: ``timeout + max_tokens / tokens_per_second``, capped by ``max_timeout``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
import openai
from pydantic import BaseModel

from ..errors import ContextLengthError, LLMError
from ..logsafe import register_secret
from ..store.layout import OutDir
from . import chain
from .base import Completion, HttpOptions
from .capabilities import Capabilities, CapabilityStore
from .endpoint import Endpoint
from .failures import create_checked, map_sdk_error, model_not_found
from .presets import is_local_endpoint
from .quirks import error_text, rejects_format
from .registry import get_provider
from .structured import StructuredResult, fold_system, mode_request, strict_json_schema
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
    tracker = HttpTracker(meter, cfg.max_retry_after)
    http = HttpOptions(
        event_hooks={"request": [tracker.on_request], "response": [tracker.on_response]},
        timeout=httpx.Timeout(cfg.timeout, connect=min(10.0, cfg.timeout)),
    )
    if cfg.api_key:
        register_secret(cfg.api_key.get_secret_value())
    parts = get_provider(cfg.provider).build(settings, http, **options)
    store = CapabilityStore(OutDir(settings.out_dir).capabilities_path)
    return LLM(cfg, parts.client, meter, tracker, parts.base_url, store=store)


class LLM:
    """Thread-safe facade over ``openai.OpenAI``; one instance is shared by worker threads."""

    def __init__(
        self,
        settings: LLMSettings,
        client: openai.OpenAI,
        meter: UsageMeter,
        tracker: HttpTracker,
        base_url: str,
        *,
        store: CapabilityStore | None = None,
    ) -> None:
        self.settings = settings
        self.client = client
        self.meter = meter
        self._tracker = tracker
        self.base_url = base_url
        self.host = urlsplit(base_url).netloc or base_url
        local = is_local_endpoint(settings.provider, settings.base_url, settings.preset)
        self.endpoint = Endpoint(
            settings, client, tracker, base_url, self.host, store or CapabilityStore(None), local=local
        )
        self._clients: dict[int, openai.OpenAI] = {}

    @property
    def model(self) -> str:
        return self.settings.chat_model

    @property
    def local(self) -> bool:
        """A server on this machine (or a local preset)."""
        return self.endpoint.local

    def capabilities(self, *, refresh: bool = False, force_probe: bool = False) -> Capabilities:
        """What the endpoint does (see ``endpoint.py``)."""
        return self.endpoint.capabilities(refresh=refresh, force_probe=force_probe)

    def batch_tokens(self, configured: int) -> int:
        """Source tokens per translation request for this endpoint: ``configured``, or less
        where its context window or measured speed call for it (what ``digest doctor``
        recommends).  Probes an unknown endpoint: call it only with requests to make."""
        return min(configured, self.capabilities().batch_tokens(configured))

    def request_timeout(self, max_tokens: int, *, structured: bool = False) -> float:
        return self.endpoint.request_timeout(max_tokens, structured=structured)

    # -- the structured-output chain (chain.py) ----------------------------------------------

    def send_structured(
        self, messages: list[dict], response_format: dict | None, max_tokens: int, mode: str, need: int = 0
    ) -> Completion:
        confirmed = response_format is None or self.endpoint.confirmed(mode)
        return self._chat(
            messages,
            max_tokens=max_tokens,
            temperature=self.settings.temperature,
            response_format=response_format,
            structured=True,
            first_without_retries=not confirmed,
            need=need,
        )

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
        return chain.complete_json(
            self, messages, model_cls, schema_name=schema_name, max_reasks=max_reasks, max_tokens=max_tokens
        )

    def structured_body(
        self,
        messages: list[dict],
        model_cls: type[BaseModel],
        *,
        schema_name: str,
        max_tokens: int | None = None,
    ) -> dict[str, Any]:
        """The first-attempt request of :meth:`complete_json`, as a body (for the Batch API)."""
        mode = self.endpoint.structured_mode()
        msgs, rf = mode_request(mode, messages, strict_json_schema(model_cls), schema_name)
        return self.chat_body(
            msgs,
            response_format=rf,
            max_tokens=max_tokens or self.settings.max_output_tokens,
            temperature=self.settings.temperature,
        )

    # -- chat -------------------------------------------------------------------------------

    def chat_body(self, messages: list[dict], **params: Any) -> dict[str, Any]:
        """The body of one chat completion request: what is sent online and what a Batch
        API request line carries."""
        if _is_reasoning_model(self.model):  # o-series / gpt-5: new token parameter, fixed temperature
            params["max_completion_tokens"] = params.pop("max_tokens", None)
            params.pop("temperature", None)
        params = {k: v for k, v in params.items() if v is not None}
        return {"model": self.model, "messages": messages, **params}

    def _prepare(self, messages: list[dict]) -> list[dict]:
        return fold_system(messages) if self.endpoint.fold_system() else messages

    def _sdk(self, retries: int) -> openai.OpenAI:
        if retries not in self._clients:
            self._clients[retries] = self.client.with_options(max_retries=retries)
        return self._clients[retries]

    def _chat(
        self,
        messages: list[dict],
        *,
        max_tokens: int,
        temperature: float,
        response_format: dict | None = None,
        structured: bool = False,
        first_without_retries: bool = False,
        need: int = 0,
    ) -> Completion:
        """One chat request.  ``need``: the reply tokens without which the request is not worth
        sending (``ContextLengthError`` when the window cannot hold them)."""
        prepared = self._prepare(messages)
        max_tokens, estimate = self.endpoint.fit_output(prepared, max_tokens, need)
        body = self.chat_body(
            prepared, max_tokens=max_tokens, temperature=temperature, response_format=response_format
        )
        timeout = self.request_timeout(max_tokens, structured=structured)
        with (
            self.endpoint.slots,
            self._guard(self.model, sent_format=response_format is not None, timeout=timeout),
        ):
            resp = None
            if first_without_retries:
                try:  # a refused format is answered at once, not retried three times
                    resp = self._create(body, timeout, 0)
                except openai.APIStatusError as exc:
                    if exc.status_code < 500 and exc.status_code != 429:
                        raise
                    if rejects_format(exc.status_code, error_text(exc.body, exc.message), sent_format=True):
                        raise
                except openai.APIConnectionError:
                    pass  # a timeout or a dropped connection: the normal retries
            if resp is None:
                resp = self._create(body, timeout, self.endpoint.retries())
        comp = self._to_completion(resp)
        self.endpoint.note_prompt(estimate, comp.prompt_tokens)
        return comp

    def _create(self, body: dict[str, Any], timeout: float, sdk_retries: int) -> Any:
        return create_checked(
            self._sdk(sdk_retries),
            body,
            httpx.Timeout(timeout, connect=min(10.0, timeout)),
            self.endpoint.retries(),
            host=self.host,
            served=self.endpoint.served(),
        )

    def complete(
        self,
        messages: list[dict],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
        response_format: dict | None = None,
    ) -> Completion:
        return self._chat(
            messages,
            max_tokens=max_tokens or self.settings.max_output_tokens,
            temperature=self.settings.temperature if temperature is None else temperature,
            response_format=response_format,
            need=(max_tokens or 0) // 2,
        )

    def _to_completion(self, resp: Any) -> Completion:
        usage = getattr(resp, "usage", None)
        pt = int(getattr(usage, "prompt_tokens", 0) or 0)
        ct = int(getattr(usage, "completion_tokens", 0) or 0)
        self.meter.add_call(pt, ct)
        if not resp.choices:
            return Completion("", "no_choices", pt, ct)
        choice = resp.choices[0]
        msg = choice.message
        return Completion(
            text=(msg.content if msg is not None else None) or "",
            finish_reason=choice.finish_reason or "stop",
            prompt_tokens=pt,
            completion_tokens=ct,
            refusal=getattr(msg, "refusal", None),
        )

    def stream(
        self,
        messages: list[dict],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
    ) -> Iterator[str]:
        """Yield text deltas as they arrive; usage is counted when the stream ends.  A stream
        that ends without a finish reason (llama-cpp-python sends an empty one when the prompt
        does not fit) is an error, never a silent empty answer."""
        limit = max_tokens or self.settings.max_output_tokens
        body = self.chat_body(
            self._prepare(messages),
            max_tokens=limit,
            temperature=self.settings.temperature if temperature is None else temperature,
            stream=True,
            stream_options={"include_usage": True},
        )
        timeout = self.request_timeout(limit)
        with self.endpoint.slots, self._guard(self.model, timeout=timeout):
            stream = self._sdk(self.endpoint.retries()).chat.completions.create(**body, timeout=timeout)
            pt = ct = 0
            finished = got_text = False
            try:
                for chunk in stream:
                    if getattr(chunk, "usage", None):
                        pt = chunk.usage.prompt_tokens or 0
                        ct = chunk.usage.completion_tokens or 0
                    for choice in chunk.choices or ():
                        if choice.finish_reason == "error":  # OpenRouter: the provider failed mid-reply
                            raise LLMError(f"the answer stream from {self.host} ended with an error")
                        finished = finished or bool(choice.finish_reason)
                        delta = choice.delta.content if choice.delta else None
                        if delta:
                            got_text = True
                            yield delta
            finally:
                stream.close()
                self.meter.add_call(pt, ct)
            if not finished:
                what = "was cut off before its end" if got_text else "was empty (the prompt may not fit)"
                raise LLMError(f"the answer stream from {self.host} {what}")

    # -- errors -------------------------------------------------------------------------------

    @contextmanager
    def _guard(
        self, model: str | None, *, sent_format: bool = False, timeout: float | None = None
    ) -> Iterator[None]:
        with self._tracker.call():
            try:
                yield
            except openai.OpenAIError as exc:
                served = self.endpoint.served(listing=model is not None and model_not_found(exc))
                err = map_sdk_error(
                    exc,
                    host=self.host,
                    model=model,
                    served=served,
                    sent_format=sent_format,
                    timeout=timeout or self.settings.timeout,
                    retries=self.endpoint.retries(),
                    max_retry_after=self.settings.max_retry_after,
                )
                if isinstance(err, ContextLengthError):
                    self.endpoint.learn_window(err)
                raise err from None

    # -- other endpoints ----------------------------------------------------------------------

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
        with self._guard(None):
            names = sorted(m.id for m in self.client.models.list())
        self.meter.add_call()
        return names

    @contextmanager
    def raw_call(self) -> Iterator[None]:
        """For helpers that call ``self.client`` directly (batch API): same counting and errors."""
        with self._guard(None):
            yield


def _is_reasoning_model(name: str) -> bool:
    n = name.lower().split("/")[-1]
    return n.startswith(("o1", "o3", "o4", "gpt-5"))
