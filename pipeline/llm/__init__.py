"""The LLM layer: one client factory over a provider registry, structured output, tokens
and usage.  The offline mock (``pipeline.llm.mock``) is not part of it: the mock provider
loads it when chosen.

The names below are loaded on first use (PEP 562), so importing ``pipeline.llm`` or its
light modules (``registry``, ``base``) does not import the ``openai`` SDK.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .base import Completion
    from .client import LLM, make_llm
    from .registry import provider_names
    from .structured import StructuredResult, strict_json_schema
    from .tokens import count_tokens
    from .usage import UsageMeter, estimate_cost

_EXPORTS = {
    "LLM": "client",
    "make_llm": "client",
    "Completion": "base",
    "provider_names": "registry",
    "StructuredResult": "structured",
    "strict_json_schema": "structured",
    "count_tokens": "tokens",
    "UsageMeter": "usage",
    "estimate_cost": "usage",
}

__all__ = [
    "LLM",
    "Completion",
    "StructuredResult",
    "UsageMeter",
    "count_tokens",
    "estimate_cost",
    "make_llm",
    "provider_names",
    "strict_json_schema",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
