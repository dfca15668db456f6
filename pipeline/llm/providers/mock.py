"""The offline mock: in-process (no ``base_url``), or a ``digest mock-llm`` server at
``llm.base_url``.  The only product module that imports ``pipeline.llm.mock``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..base import ClientParts, HttpOptions
from ..mock import BASE_URL, MockLLM, MockTransport, get_default_mock
from .openai import sdk_client

if TYPE_CHECKING:
    import httpx

    from ...settings import Settings


def build(
    settings: Settings,
    http: HttpOptions,
    *,
    mock: MockLLM | None = None,
    transport: httpx.BaseTransport | None = None,
) -> ClientParts:
    cfg = settings.llm
    secret = cfg.api_key.get_secret_value() if cfg.api_key else ""
    if cfg.base_url:  # the mock behind a real port
        return ClientParts(
            sdk_client(settings, http, cfg.base_url, secret or "mock", transport=transport), cfg.base_url
        )
    transport = transport or MockTransport(mock or get_default_mock(settings))
    return ClientParts(sdk_client(settings, http, BASE_URL, "mock", transport=transport), BASE_URL)
