"""The provider interface: how ``make_llm`` gets an SDK client for ``settings.llm``.

A provider is a module of ``pipeline.llm.providers`` with one function::

    def build(settings: Settings, http: HttpOptions, **options) -> ClientParts

It decides the endpoint and the API-key policy and returns an ``openai`` SDK client
(``openai.OpenAI`` or a subclass such as ``openai.AzureOpenAI``) whose HTTP client comes
from ``http.client()`` (so usage and retries are counted the same way for every
provider).  Everything above the SDK client (structured output, retries, usage, errors)
is shared: :class:`pipeline.llm.client.LLM`.  Register a provider in ``registry.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import httpx

if TYPE_CHECKING:
    from ..settings import Settings


@dataclass
class Completion:
    text: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    refusal: str | None = None


@dataclass
class HttpOptions:
    """What every provider's HTTP client gets: the usage hooks and the timeouts, and in tests
    a transport that answers without a network."""

    event_hooks: dict[str, list[Any]]
    timeout: httpx.Timeout
    transport: httpx.BaseTransport | None = None

    def client(self, transport: httpx.BaseTransport | None = None) -> httpx.Client:
        return httpx.Client(
            transport=transport or self.transport, event_hooks=self.event_hooks, timeout=self.timeout
        )


@dataclass
class ClientParts:
    client: Any  # an openai.OpenAI (or a subclass)
    base_url: str  # where requests go: named in error messages


class Provider(Protocol):
    """The interface of a provider module."""

    def build(self, settings: Settings, http: HttpOptions, **options: Any) -> ClientParts: ...
