"""The LLM layer: one client factory, structured output, tokens, usage, and the offline mock."""

from .client import LLM, Completion, make_llm
from .mock import MockLLM
from .structured import StructuredResult, strict_json_schema
from .tokens import count_tokens
from .usage import UsageMeter, estimate_cost

__all__ = [
    "LLM",
    "Completion",
    "MockLLM",
    "StructuredResult",
    "UsageMeter",
    "count_tokens",
    "estimate_cost",
    "make_llm",
    "strict_json_schema",
]
