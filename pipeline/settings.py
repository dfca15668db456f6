"""The one typed settings tree.

Precedence, highest first: command-line flags (passed as overrides), environment
variables (``DIGEST_*`` with ``__`` between nested names, plus the standard
``OPENAI_API_KEY`` / ``OPENAI_BASE_URL``), a ``.env`` file in the working folder, the
project TOML (``--config``, ``DIGEST_CONFIG`` or ``./digest.toml``), the user's
``config.toml`` (in the user dir), the keys file (``digest keys``; the API key only), the
index location the output folder recorded (``index.*`` only), then the defaults below.
The layers are in ``settings_sources.py``, the ``llm`` section in ``settings_llm.py``; ``os.environ`` is read nowhere else.
"""

from __future__ import annotations

import logging
import typing
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import (
    Field,
    PrivateAttr,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from .errors import ConfigError
from .retrieval.base import default_weights
from .settings_llm import LLMSettings, Section
from .settings_sources import (
    Origins,
    SourcePlan,
    apply_recorded_index,
    config_file_from_env,
    default_user_dir_from_env,
    describe_error,
    env_file_from_env,
    leaves,
    scope_api_key,
    user_dir_from_env,
)
from .store.layout import OutDir
from .userdata.paths import UserDir

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# the reviewed English of the sample digests, used by default (translate, index, eval)
SEEDS_MEMORY = PROJECT_ROOT / "seeds" / "memory.jsonl"

log = logging.getLogger(__name__)


def default_memory_files() -> list[Path]:
    """The shipped translation memory, when the project folder has it."""
    return [SEEDS_MEMORY] if SEEDS_MEMORY.is_file() else []


# Every numeric setting has a range (``Field(ge=..., le=...)``); a value outside it is an error
# naming the key and the range (tests/test_settings_ranges.py checks that none lacks one).
Weight = Annotated[float, Field(ge=0, le=100)]


class TranslateSettings(Section):
    prompt: str = "translate.md"
    batch_tokens: int = Field(1200, ge=1, le=1_000_000)  # source tokens per request
    max_section_tokens: int = Field(600, ge=16, le=1_000_000)  # longer sections are split
    glossary_file: Path | None = None  # default: <out_dir>/glossary.tsv
    # translation memories, in order: a later file's pair wins; --memory FILE adds one at the end
    memory_files: list[Path] = Field(default_factory=default_memory_files)
    memory_file: Path | list[Path] | None = None  # deprecated: appended to memory_files
    # requests that may carry one segment: first try, regroups and re-asks all count
    max_requests_per_segment: int = Field(default=3, ge=1, le=100)

    @model_validator(mode="after")
    def _migrate_memory_file(self) -> TranslateSettings:
        if self.memory_file is not None:
            extra = [self.memory_file] if isinstance(self.memory_file, Path) else list(self.memory_file)
            log.warning("translate.memory_file is deprecated: use translate.memory_files (a list)")
            self.memory_files = [*self.memory_files, *(p for p in extra if p not in self.memory_files)]
            self.memory_file = None
        return self


class EnrichSettings(Section):
    prompt: str = "enrich.md"
    # requests for one entry: the first, the re-ask naming the errors, a fresh one
    max_requests_per_entry: int = Field(default=3, ge=1, le=100)


class IndexSettings(Section):
    chroma_url: str | None = None  # http://HOST:PORT -> HttpClient, else PersistentClient
    embedding: Literal["local", "endpoint"] = "local"
    local_model: str = "all-MiniLM-L6-v2"
    chunk_tokens: int = Field(200, ge=16, le=8192)
    collection_prefix: str = "digest"
    # load Kiwi in a child process as `digest index` starts, on another core, while the index
    # reads its inputs (pipeline/retrieval/kiwi_process.py); off: loaded when first needed
    kiwi_process: bool = True


class SearchSettings(Section):
    k: int = Field(10, ge=1, le=1000)
    # below this relevance (0..1) of the best hit, `digest search` notes a weak match: 1 of the
    # 105 public dev questions falls below 0.3, and 5 of 6 nonsense queries (measured on seeds/)
    min_relevance: float = Field(0.3, ge=0, le=1)
    # small k: each retriever's top ranks dominate (measured in benchmarks/retrieval.py)
    rrf_k: int = Field(10, ge=0, le=10_000)
    # weighted reciprocal-rank fusion, by query language; for Korean queries the dense and
    # English-BM25 weights are scaled by the query's share of Latin letters.  Retriever names
    # and default weights: pipeline/retrieval/base.py
    weights_en: dict[str, Weight] = Field(default_factory=lambda: default_weights("en"))
    weights_ko: dict[str, Weight] = Field(default_factory=lambda: default_weights("ko"))
    # query bridging (pipeline/retrieval/bridge.py): a Korean query also searches the English
    # side through the word associations mined from the corpus's translations, and back
    bridge: bool = True
    bridge_max_sections: int = Field(8000, ge=1, le=10_000_000)  # the newest sections mined
    # the word alignment is trained again when this share of its sections is new or gone
    # (a day adds ~6% at 8000 sections: kept for a few days); 0: trained at every change
    bridge_retrain_share: float = Field(0.2, ge=0, le=1)
    # with an LLM: translate the query too (cached); `digest search --translate`.  ask always does
    translate: bool = False
    translate_prompt: str = "query_translate.md"


class AskSettings(Section):
    prompt: str = "ask.md"
    k: int = Field(6, ge=1, le=100)
    language: str | None = None  # None: the question's language
    # refuse without asking the LLM when the best entry holds less of the question's content
    # (idf-weighted, either language: pipeline/retrieval/support.py); 0.25 lies between the
    # coverage of the project's unanswerable questions and the lowest of the development set's
    # (0.34) -- BENCHMARKS.md ...
    min_relevance: float = Field(0.25, ge=0, le=1)
    # ... or when it misses this share of the question and another entry holds it (a task and a
    # method that no single entry combines)
    combination_gain: float = Field(0.25, ge=0, le=1)


class NewsletterSettings(Section):
    formats: list[str] = Field(default_factory=lambda: ["md", "html", "rss"])
    intro: bool = True
    top_n: int = Field(5, ge=0, le=1000)
    title: str = "AI Papers Digest"
    # where the newsletters are published: the feeds' channel and self links; unset, the
    # feeds link to the Hugging Face Daily Papers page and a warning says so
    site_url: str | None = None
    feed_items: int = Field(
        50, ge=1, le=100_000
    )  # items in the cumulative feed (newsletter/feed.xml), newest first
    prompt: str = "newsletter_intro.md"

    @field_validator("site_url")
    @classmethod
    def _site_url(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        parts = urlsplit(v.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"site_url must be an http:// or https:// URL, got {v!r}")
        return v.strip().rstrip("/")


class LogsSettings(Section):
    """``digest logs``: every ``ask`` kept in the user dir (``logs.db``)."""

    enabled: bool = True


class ServeSettings(Section):
    """``digest serve`` and the commands that use a running server."""

    host: str = "127.0.0.1"  # loopback; another address needs --allow-remote
    port: int = Field(8765, ge=0, le=65535)  # 0: any free port (serve.json says which)
    discover: bool = True  # search / ask use the server named by OUT/serve.json when it answers

    @field_validator("port")
    @classmethod
    def _port(cls, v: int) -> int:
        if not 0 <= v <= 65535:
            raise ValueError("must be 0..65535")
        return v


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="DIGEST_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    source_plan: ClassVar[SourcePlan | None] = None

    out_dir: Path = Path("outputs")
    # the user's files (config.toml, keys.json, logs.db, ask history); set by DIGEST_USER_DIR
    user_dir: Path = Field(default_factory=lambda: default_user_dir_from_env())
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
    logs: LogsSettings = Field(default_factory=LogsSettings)
    serve: ServeSettings = Field(default_factory=ServeSettings)

    _origins: Origins = PrivateAttr(default_factory=Origins)

    @model_validator(mode="after")
    def _defaults(self) -> Settings:
        if self.translate.glossary_file is None:
            self.translate.glossary_file = OutDir(self.out_dir).glossary_path
        return self

    @property
    def tiktoken_cache_dir(self) -> Path:
        return self.cache_dir / "tiktoken"

    @property
    def origins(self) -> Origins:
        """Where each value came from (``digest config --show-origin``)."""
        return self._origins

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        plan = getattr(settings_cls, "source_plan", None)
        if plan is None:  # Settings() built directly: flags and the environment only
            plan = SourcePlan()
        return plan.build(settings_cls, init_settings)


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build settings from flags (``overrides``, nested dicts), env, ``.env``, the project
    and user TOML files, the keys file and defaults; ``settings.origins`` says which.

    ``overrides`` whose value is None are dropped, so unset CLI flags never mask
    the environment or the files.
    """
    path = config_file or config_file_from_env()
    if path is None and Path("digest.toml").is_file():
        path = Path("digest.toml")
    if path is not None and not Path(path).is_file():
        raise ConfigError(f"config file not found: {path}")
    clean = _drop_none(overrides)
    user = UserDir(clean["user_dir"]) if "user_dir" in clean else UserDir(user_dir_from_env())
    user_file = user.config_path if user.config_path.is_file() else None
    if user_file is not None and path is not None and Path(path).resolve() == user_file.resolve():
        user_file = None  # --config pointing at the user's file: one layer, not two
    plan = SourcePlan(project_file=path, user_file=user_file, env_file=env_file_from_env())

    cls = type("Settings", (Settings,), {"source_plan": plan})
    origins = Origins()
    try:
        settings = cls(**clean)
    except ConfigError:
        raise
    except Exception as exc:  # pydantic ValidationError, a bad JSON value in a variable
        origins.layers = plan.layers
        raise ConfigError(describe_error(exc, origins, allowed_range)) from None
    origins.layers = plan.layers
    settings._origins = origins
    for layer in plan.layers:  # the user dir holds the user's config.toml: not set from a file
        if layer.kind in ("file", "dotenv") and layer.supplies(("user_dir",)):
            raise ConfigError(
                f"user_dir is set in {layer.where(('user_dir',))}: set DIGEST_USER_DIR in the "
                "environment instead (the user dir holds the user's config.toml)"
            )
    scope_api_key(settings, plan)
    apply_recorded_index(settings)
    return settings


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


def allowed_range(loc: tuple[Any, ...] | list[Any]) -> str | None:
    """The range of the numeric setting at ``loc`` (e.g. ``("translate", "batch_tokens")``),
    as ``"50 <= value <= 200000"``; None when it has none."""
    model: Any = Settings
    metadata: list[Any] = []
    for part in loc:
        fields = getattr(model, "model_fields", None)
        if fields is None or part not in fields:
            return _describe_bounds(metadata) if metadata else None
        info = fields[part]
        metadata, model = list(info.metadata), info.annotation
        args = typing.get_args(model)
        if typing.get_origin(model) is dict and args:  # dict[str, Annotated[...]]: the value's range
            value = args[1]
            metadata = list(getattr(value, "__metadata__", ())) or metadata
            break
    return _describe_bounds(metadata)


def _describe_bounds(metadata: list[Any]) -> str | None:
    lo = hi = None
    flat = [x for m in metadata for x in (getattr(m, "metadata", None) or [m])]  # FieldInfo: its bounds
    for m in flat:
        for attr, op in (("ge", "<="), ("gt", "<")):
            if getattr(m, attr, None) is not None:
                lo = f"{getattr(m, attr)} {op} value"
        for attr, op in (("le", "<="), ("lt", "<")):
            if getattr(m, attr, None) is not None:
                hi = f" {op} {getattr(m, attr)}"
    if lo is None and hi is None:
        return None
    return (lo or "value") + (hi or "")


def masked_dump(settings: Settings) -> dict[str, Any]:
    """Effective settings as plain data, secrets masked."""
    data = settings.model_dump(mode="json")
    key = settings.llm.api_key
    if key is not None:
        raw = key.get_secret_value()
        data["llm"]["api_key"] = ("****" + raw[-4:]) if len(raw) > 12 else "****"
    return data


def explained_dump(settings: Settings) -> list[tuple[str, Any, str]]:
    """(dotted key, value with secrets masked, where it came from) for every setting."""
    return [(".".join(key), value, settings.origins.of(key)) for key, value in leaves(masked_dump(settings))]
