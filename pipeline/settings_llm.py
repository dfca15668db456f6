"""The ``llm`` section of the settings tree (``settings.py``): how to reach the endpoint, and
what a preset (``llm/presets.py``) and the prices table (``llm/prices.py``) fill in."""

from __future__ import annotations

from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from .llm.presets import is_local_endpoint, preset_names, preset_values
from .llm.prices import resolve_prices
from .llm.registry import provider_names


class Section(BaseModel):
    """A settings section: a misspelt key in the TOML file or a DIGEST_* variable is an error."""

    model_config = ConfigDict(extra="forbid")


class LLMSettings(Section):
    """How to reach the chat / embedding endpoint (any OpenAI-compatible server)."""

    provider: str = "openai"  # a name of pipeline/llm/registry.py: openai, azure, mock
    # a name of pipeline/llm/presets.py (openai, azure, ollama, llamacpp, vllm, lmstudio,
    # openrouter, deepseek, groq): base URL, JSON mode, concurrency, timeout, retries;
    # a setting given explicitly wins over its preset
    preset: str | None = None
    base_url: str | None = None
    azure_endpoint: str | None = None  # provider azure: https://<resource>.openai.azure.com
    api_version: str = "2024-10-21"  # provider azure: the REST API version
    api_key: SecretStr | None = None
    chat_model: str = "gpt-4o-mini"
    embedding_model: str = "text-embedding-3-small"
    # per-request timeout: timeout + max_tokens / tokens_per_second, at most max_timeout
    timeout: float = Field(60.0, gt=0, le=3600)  # seconds
    max_timeout: float = Field(900.0, gt=0, le=86_400)
    # output tokens per second; None: measured by the capability probe, else a cautious default
    tokens_per_second: float | None = Field(None, gt=0, le=1_000_000)
    max_retries: int = Field(5, ge=0, le=20)
    # a 429 whose Retry-After asks for longer fails at once (a quota) instead of sleeping
    max_retry_after: float = Field(60.0, ge=0, le=86_400)
    concurrency: int = Field(4, ge=1, le=256)
    # translate and enrich stop after this many requests in a row failed even after the
    # retries (the endpoint is down); a single failed request is recorded and the stage goes on
    abort_after_failures: int = Field(4, ge=1, le=100_000)
    # the most a run may spend, in USD at the prices below (--max-cost); None: no limit.  A
    # request is sent only if its worst case (prompt + max_tokens) still fits
    max_cost: float | None = Field(None, ge=0, le=1_000_000)
    # retries (regroup, re-ask) may bring a stage's prompt tokens to this multiple of its
    # planned prompt tokens (the first try of every request, as --dry-run shows), no further
    max_token_overrun: float = Field(3.0, ge=1, le=100)
    temperature: float = Field(0.0, ge=0, le=2)
    max_output_tokens: int = Field(4096, ge=1, le=1_000_000)
    # None: the model's list price, $0 for a local endpoint (pipeline/llm/prices.py)
    price_input_per_million: float | None = Field(None, ge=0, le=10_000)  # USD
    price_output_per_million: float | None = Field(None, ge=0, le=10_000)
    # structured output: the first mode of the chain json_schema -> json_object_schema
    # (json_object + a "schema" key: llama.cpp's grammar) -> json_object -> text (schema in
    # the prompt, tolerant parsing).  auto: what the probe found, stepping down whenever the
    # server rejects a mode; any other value: only that mode.
    json_mode: Literal["auto", "json_schema", "json_object_schema", "json_object", "text"] = "auto"
    # system messages: keep, fold into the first user message, or auto (the probe checks
    # whether the server ignores them, e.g. llama-cpp-python's gemma chat format)
    system_role: Literal["auto", "keep", "fold"] = "auto"
    # probe an unknown endpoint's capabilities before its first request (cached in
    # OUT/cache/capabilities.json, re-probed after capabilities_max_age_days)
    probe: bool = True
    capabilities_max_age_days: float = Field(7.0, ge=0, le=3650)
    # Mock only: fault-injection spec, e.g. "rate=0.3,latency_ms=200,seed=7"
    mock_faults: str = ""

    _price_basis: str = PrivateAttr("")

    @field_validator("provider")
    @classmethod
    def _known_provider(cls, v: str) -> str:
        if v not in provider_names():
            raise ValueError(f"unknown LLM provider {v!r}; known: {', '.join(provider_names())}")
        return v

    @field_validator("preset")
    @classmethod
    def _known_preset(cls, v: str | None) -> str | None:
        if v in (None, ""):
            return None
        if v not in preset_names():
            raise ValueError(f"unknown preset {v!r}; known: {', '.join(preset_names())}")
        return v

    @field_validator("base_url", "azure_endpoint")
    @classmethod
    def _check_url(cls, v: str | None, info: ValidationInfo) -> str | None:
        if v in (None, ""):
            return None
        if not (v.startswith("http://") or v.startswith("https://")):
            raise ValueError(f"{info.field_name} must start with http:// or https://, got {v!r}")
        return v.rstrip("/")

    @model_validator(mode="after")
    def _apply_preset(self) -> LLMSettings:
        if self.preset:
            for name, value in preset_values(self.preset).items():
                if name not in self.model_fields_set:
                    self.__dict__[name] = value  # not marked as set: the preset's, not the user's
        self.refresh_prices()
        return self

    def refresh_prices(self) -> None:
        """Fill the prices that were not set (the model's, or $0 for a local endpoint); call
        again after changing ``chat_model``, ``base_url`` or ``provider``."""
        explicit = tuple(
            getattr(self, f) if f in self.model_fields_set else None
            for f in ("price_input_per_million", "price_output_per_million")
        )
        prices = resolve_prices(
            self.chat_model,
            local=is_local_endpoint(self.provider, self.base_url, self.preset),
            explicit=explicit,  # type: ignore[arg-type]
        )
        self.__dict__["price_input_per_million"] = prices.input_per_million
        self.__dict__["price_output_per_million"] = prices.output_per_million
        self._price_basis = prices.basis

    @property
    def price_basis(self) -> str:
        """How the prices were chosen ("local endpoint: $0", "gpt-4o-mini at ... (list price)")."""
        return self._price_basis

    def is_explicit(self, name: str) -> bool:
        """Was this setting given (flag, environment, TOML), not a default or the preset's?"""
        return name in self.model_fields_set
