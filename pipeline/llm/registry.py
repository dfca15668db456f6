"""The LLM providers by name.  A provider module is imported only when it is used, so the
mock (and any SDK a provider needs) stays out of the import path until chosen.

A new provider: one module in ``providers/`` with ``build(settings, http, **options)``
(see ``base.py``) and one line here.  Its name becomes valid for ``llm.provider`` and
``--llm``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, cast

from ..errors import ConfigError

if TYPE_CHECKING:
    from .base import Provider

PROVIDERS: dict[str, str] = {
    "openai": "pipeline.llm.providers.openai",  # any OpenAI-compatible URL (OpenAI, Ollama, vLLM...)
    "azure": "pipeline.llm.providers.azure",  # Azure OpenAI: endpoint, api-version, deployments
    "mock": "pipeline.llm.providers.mock",  # the offline mock, in-process or over HTTP
}


def provider_names() -> tuple[str, ...]:
    return tuple(PROVIDERS)


def get_provider(name: str) -> Provider:
    if name not in PROVIDERS:
        raise ConfigError(f"unknown LLM provider {name!r}; known: {', '.join(PROVIDERS)}")
    return cast("Provider", importlib.import_module(PROVIDERS[name]))
