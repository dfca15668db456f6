"""The one typed settings tree.

Precedence, highest first: command-line flags (passed as overrides), environment
variables (``DIGEST_*`` with ``__`` between nested names, plus the standard
``OPENAI_API_KEY`` / ``OPENAI_BASE_URL``), a TOML file (``--config``, ``DIGEST_CONFIG``
or ``./digest.toml``), then the defaults below.  ``os.environ`` is read nowhere else.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from .errors import ConfigError
from .llm.registry import provider_names
from .retrieval.base import default_weights
from .store.layout import OutDir

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class _Section(BaseModel):
    """A settings section: a misspelt key in the TOML file or a DIGEST_* variable is an error."""

    model_config = ConfigDict(extra="forbid")


class LLMSettings(_Section):
    """How to reach the chat / embedding endpoint (any OpenAI-compatible server)."""

    provider: str = "openai"  # a name of pipeline/llm/registry.py: openai, azure, mock
    base_url: str | None = None
    azure_endpoint: str | None = None  # provider azure: https://<resource>.openai.azure.com
    api_version: str = "2024-10-21"  # provider azure: the REST API version
    api_key: SecretStr | None = None
    chat_model: str = "gpt-4o-mini"
    embedding_model: str = "text-embedding-3-small"
    timeout: float = 60.0
    max_retries: int = 5
    concurrency: int = 4
    # translate and enrich stop after this many requests in a row failed even after the
    # retries (the endpoint is down); a single failed request is recorded and the stage goes on
    abort_after_failures: int = 4
    temperature: float = 0.0
    max_output_tokens: int = 4096
    price_input_per_million: float = 0.15
    price_output_per_million: float = 0.60
    # json_schema: strict structured output; json_object: schema in the prompt
    # (llama.cpp); auto: try json_schema, fall back once the server rejects it.
    json_mode: Literal["auto", "json_schema", "json_object"] = "auto"
    # Mock only: fault-injection spec, e.g. "rate=0.3,latency_ms=200,seed=7"
    mock_faults: str = ""

    @field_validator("provider")
    @classmethod
    def _known_provider(cls, v: str) -> str:
        if v not in provider_names():
            raise ValueError(f"unknown LLM provider {v!r}; known: {', '.join(provider_names())}")
        return v

    @field_validator("base_url", "azure_endpoint")
    @classmethod
    def _check_url(cls, v: str | None, info: ValidationInfo) -> str | None:
        if v in (None, ""):
            return None
        if not (v.startswith("http://") or v.startswith("https://")):
            raise ValueError(f"{info.field_name} must start with http:// or https://, got {v!r}")
        return v.rstrip("/")

    @field_validator("concurrency", "max_retries")
    @classmethod
    def _non_negative(cls, v: int) -> int:
        if v < 0:
            raise ValueError("must be >= 0")
        return v

    @field_validator("abort_after_failures")
    @classmethod
    def _positive(cls, v: int) -> int:
        if v < 1:
            raise ValueError("must be >= 1")
        return v


class TranslateSettings(_Section):
    prompt: str = "translate.md"
    batch_tokens: int = 1200  # source tokens per request
    max_section_tokens: int = 600  # longer sections are split
    glossary_file: Path | None = None  # default: <out_dir>/glossary.tsv
    memory_file: Path | list[Path] | None = None  # one file or several: a later file's pair wins


class EnrichSettings(_Section):
    prompt: str = "enrich.md"


class IndexSettings(_Section):
    chroma_url: str | None = None  # http://HOST:PORT -> HttpClient, else PersistentClient
    embedding: Literal["local", "endpoint"] = "local"
    local_model: str = "all-MiniLM-L6-v2"
    chunk_tokens: int = 200
    collection_prefix: str = "digest"


class SearchSettings(_Section):
    k: int = 10
    rrf_k: int = 10  # small k: each retriever's top ranks dominate (measured in benchmarks/retrieval.py)
    # weighted reciprocal-rank fusion, by query language; for Korean queries the dense and
    # English-BM25 weights are scaled by the query's share of Latin letters.  Retriever names
    # and default weights: pipeline/retrieval/base.py
    weights_en: dict[str, float] = Field(default_factory=lambda: default_weights("en"))
    weights_ko: dict[str, float] = Field(default_factory=lambda: default_weights("ko"))


class AskSettings(_Section):
    prompt: str = "ask.md"
    k: int = 6
    language: str | None = None  # None: the question's language
    min_relevance: float = 0.25  # refuse without asking the LLM when the best hit covers less


class NewsletterSettings(_Section):
    formats: list[str] = Field(default_factory=lambda: ["md", "html", "rss"])
    intro: bool = True
    top_n: int = 5
    title: str = "AI Papers Digest"
    site_url: str = "https://example.invalid/digest"
    prompt: str = "newsletter_intro.md"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="DIGEST_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    toml_path: ClassVar[Path | None] = None

    out_dir: Path = Path("outputs")
    prompts_dir: Path = PROJECT_ROOT / "prompts"
    templates_dir: Path = PROJECT_ROOT / "templates"
    cache_dir: Path = Path.home() / ".cache" / "digest"
    log_level: str = "INFO"
    progress: Literal["auto", "bar", "plain", "off"] = "auto"

    llm: LLMSettings = Field(default_factory=LLMSettings)
    translate: TranslateSettings = Field(default_factory=TranslateSettings)
    enrich: EnrichSettings = Field(default_factory=EnrichSettings)
    index: IndexSettings = Field(default_factory=IndexSettings)
    search: SearchSettings = Field(default_factory=SearchSettings)
    ask: AskSettings = Field(default_factory=AskSettings)
    newsletter: NewsletterSettings = Field(default_factory=NewsletterSettings)

    @model_validator(mode="after")
    def _defaults(self) -> Settings:
        if self.translate.glossary_file is None:
            self.translate.glossary_file = OutDir(self.out_dir).glossary_path
        return self

    @property
    def tiktoken_cache_dir(self) -> Path:
        return self.cache_dir / "tiktoken"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = getattr(settings_cls, "toml_path", None)
        sources: list[PydanticBaseSettingsSource] = [
            init_settings,
            _OpenAIEnvSource(settings_cls),
            env_settings,
        ]
        if toml is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml))
        return tuple(sources)


class _OpenAIEnvSource(PydanticBaseSettingsSource):
    """Maps the SDK's own variables onto ``llm``; ``DIGEST_LLM__*`` still wins."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:  # pragma: no cover
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        llm: dict[str, Any] = {}
        if os.environ.get("OPENAI_API_KEY") and "DIGEST_LLM__API_KEY" not in os.environ:
            llm["api_key"] = os.environ["OPENAI_API_KEY"]
        if os.environ.get("OPENAI_BASE_URL") and "DIGEST_LLM__BASE_URL" not in os.environ:
            llm["base_url"] = os.environ["OPENAI_BASE_URL"]
        return {"llm": llm} if llm else {}


def config_file_from_env() -> Path | None:
    value = os.environ.get("DIGEST_CONFIG")
    return Path(value) if value else None


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build settings from flags (``overrides``, nested dicts), env, TOML and defaults.

    ``overrides`` whose value is None are dropped, so unset CLI flags never mask
    the environment or the file.
    """
    path = config_file or config_file_from_env()
    if path is None and Path("digest.toml").is_file():
        path = Path("digest.toml")
    if path is not None and not Path(path).is_file():
        raise ConfigError(f"config file not found: {path}")

    cls = type("Settings", (Settings,), {"toml_path": path})
    clean = _drop_none(overrides)
    try:
        return cls(**clean)
    except Exception as exc:  # pydantic ValidationError, TOML errors
        raise ConfigError(_describe_settings_error(exc, path)) from None


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            sub = _drop_none(v)
            if sub:
                out[k] = sub
        elif v is not None:
            out[k] = v
    return out


def _describe_settings_error(exc: Exception, path: Path | None) -> str:
    from pydantic import ValidationError

    where = f" (config file {path})" if path else ""
    if isinstance(exc, ValidationError):
        parts = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"])
            # never echo the offending input: it may be a secret
            parts.append(f"{loc}: {err['msg']}")
        return "invalid settings" + where + ": " + "; ".join(parts)
    return f"invalid settings{where}: {type(exc).__name__}: {exc}"


def masked_dump(settings: Settings) -> dict[str, Any]:
    """Effective settings as plain data, secrets masked."""
    data = settings.model_dump(mode="json")
    key = settings.llm.api_key
    if key is not None:
        raw = key.get_secret_value()
        data["llm"]["api_key"] = ("****" + raw[-4:]) if len(raw) > 12 else "****"
    return data
