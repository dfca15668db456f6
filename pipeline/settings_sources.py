"""Where settings come from, and where each effective value came from.

The layers, highest first (``settings.py`` builds them through :class:`SourcePlan`):

1. command-line flags (``load_settings(**overrides)``);
2. environment variables: ``OPENAI_API_KEY`` / ``OPENAI_BASE_URL``, and ``DIGEST_*`` with
   ``__`` between nested names (a ``DIGEST_LLM__*`` beats the ``OPENAI_*`` of its layer);
3. a ``.env`` file in the working folder (the same variables; ``$DIGEST_ENV_FILE`` names
   another file, or none when empty);
4. the project TOML (``--config``, ``$DIGEST_CONFIG`` or ``./digest.toml``);
5. the user's ``config.toml`` in the user dir;
6. (after loading, below) the keys file, for the API key only, and the index location an output
   folder recorded, for ``index.*`` only; then the defaults.

Each :class:`Layer` remembers what it supplied, so :class:`Origins` can name the flag,
variable or file behind every value (``digest config --show-origin``) and a bad value is
blamed on its own variable or file.  With ``settings.py`` this is the only module that
reads ``os.environ``.
"""

from __future__ import annotations

import logging
import os
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr, ValidationError
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource
from pydantic_settings.sources.utils import parse_env_vars

from .errors import ConfigError
from .llm.presets import key_name, key_variable
from .logsafe import register_secret
from .store.layout import OutDir
from .userdata.keys import KeyStore
from .userdata.paths import default_user_dir

if TYPE_CHECKING:
    from .settings import Settings

log = logging.getLogger(__name__)

Key = tuple[str, ...]

ENV_PREFIX = "DIGEST_"
ENV_DELIMITER = "__"
OPENAI_VARS = {"OPENAI_API_KEY": "api_key", "OPENAI_BASE_URL": "base_url"}
# DIGEST_* variables the loader reads itself: they are no settings
LOADER_VARS = {"DIGEST_CONFIG", "DIGEST_ENV_FILE"}
DEFAULT = "default"


def environ() -> Mapping[str, str]:
    return os.environ


def default_user_dir_from_env() -> Path:
    env = environ()
    return default_user_dir(env.get("XDG_CONFIG_HOME"), Path.home())


def user_dir_from_env() -> Path:
    """``$DIGEST_USER_DIR``, else ``$XDG_CONFIG_HOME/digest``, else ``~/.config/digest``."""
    value = environ().get("DIGEST_USER_DIR")
    return Path(value).expanduser() if value else default_user_dir_from_env()


def config_file_from_env() -> Path | None:
    value = environ().get("DIGEST_CONFIG")
    return Path(value) if value else None


def env_file_from_env() -> Path | None:
    """The ``.env`` to read: ``$DIGEST_ENV_FILE`` (empty: none), else ``./.env`` if present."""
    value = environ().get("DIGEST_ENV_FILE")
    if value is not None:
        return Path(value) if value.strip() and Path(value).is_file() else None
    return Path(".env") if Path(".env").is_file() else None


# ------------------------------------------------------------------------------- layers


class _EnvMapping(EnvSettingsSource):
    """pydantic-settings' own parsing of ``DIGEST_*`` variables (prefix, ``__`` nesting, JSON
    for lists and dicts) over any mapping: the process environment or a ``.env`` file."""

    def __init__(self, settings_cls: type[BaseSettings], variables: Mapping[str, str | None]) -> None:
        self._variables = {k: v for k, v in variables.items() if k.upper() not in LOADER_VARS}
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(
            self._variables, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str
        )


def openai_settings(variables: Mapping[str, str | None]) -> dict[str, Any]:
    """The SDK's own variables mapped onto ``llm``; a ``DIGEST_LLM__*`` of the same layer wins."""
    upper = {k.upper(): v for k, v in variables.items() if v}
    llm = {
        name: upper[var]
        for var, name in OPENAI_VARS.items()
        if var in upper and f"{ENV_PREFIX}LLM{ENV_DELIMITER}{name.upper()}" not in upper
    }
    return {"llm": llm} if llm else {}


def variable_name(key: Key, variables: Mapping[str, Any]) -> str:
    """The ``DIGEST_*`` variable that set ``key`` (or the parent holding it as JSON)."""
    upper = {k.upper() for k in variables}
    for i in range(len(key), 0, -1):
        name = (ENV_PREFIX + ENV_DELIMITER.join(key[:i])).upper()
        if name in upper:
            return name
    return (ENV_PREFIX + ENV_DELIMITER.join(key)).upper()


def openai_variable(key: Key) -> str:
    by_field = {name: var for var, name in OPENAI_VARS.items()}
    return by_field.get(key[1] if len(key) > 1 else "", "OPENAI_*")


class Layer(PydanticBaseSettingsSource):
    """One layer of settings: loads a dict, remembers it, and names where a value came from."""

    def __init__(
        self,
        settings_cls: type[BaseSettings],
        kind: str,
        load: Callable[[], dict[str, Any]],
        where: Callable[[Key], str],
    ) -> None:
        super().__init__(settings_cls)
        self.kind = kind  # flag, env, dotenv, file
        self._load = load
        self._where = where
        self.data: dict[str, Any] = {}

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:  # pragma: no cover
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        self.data = self._load() or {}
        return self.data

    def supplies(self, key: Key) -> bool:
        """Whether this layer set ``key`` (or a non-table value above it)."""
        node: Any = self.data
        for part in key:
            if not isinstance(node, dict):
                return True
            if part not in node:
                return False
            node = node[part]
        return True

    def where(self, key: Key) -> str:
        return self._where(key)


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid settings (config file {path}): not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from None


def read_dotenv(path: Path) -> dict[str, str | None]:
    from dotenv import dotenv_values  # a dependency of pydantic-settings

    try:
        return dict(dotenv_values(path, encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None


@dataclass
class SourcePlan:
    """The files to read, decided before the settings are built; then the layers built."""

    project_file: Path | None = None
    user_file: Path | None = None
    env_file: Path | None = None
    layers: list[Layer] = field(default_factory=list)

    def build(
        self, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource
    ) -> tuple[Layer, ...]:
        env = dict(environ())
        layers = [
            Layer(settings_cls, "flag", init_settings, lambda k: "command line"),
            Layer(settings_cls, "env", lambda: openai_settings(env), lambda k: "env " + openai_variable(k)),
            Layer(
                settings_cls, "env", _EnvMapping(settings_cls, env), lambda k: "env " + variable_name(k, env)
            ),
        ]
        if self.env_file is not None:
            path = self.env_file
            dotenv = read_dotenv(path)
            layers += [
                Layer(
                    settings_cls,
                    "dotenv",
                    lambda: openai_settings(dotenv),
                    lambda k: f"{path} {openai_variable(k)}",
                ),
                Layer(
                    settings_cls,
                    "dotenv",
                    _EnvMapping(settings_cls, dotenv),
                    lambda k: f"{path} {variable_name(k, dotenv)}",
                ),
            ]
        for file in (self.project_file, self.user_file):
            if file is not None:
                layers.append(
                    Layer(settings_cls, "file", _toml_loader(file), _constant(f"config file {file}"))
                )
        self.layers = layers
        return tuple(layers)


def _toml_loader(path: Path) -> Callable[[], dict[str, Any]]:
    return lambda: read_toml(path)


def _constant(text: str) -> Callable[[Key], str]:
    return lambda k: text


# ------------------------------------------------------------------------------- origins


@dataclass
class Origins:
    """Where each value came from: the first layer (highest) that supplied it, a value set
    after loading (``extra``: the keys file, a recorded index), or the default."""

    layers: list[Layer] = field(default_factory=list)
    extra: dict[Key, str] = field(default_factory=dict)

    def layer_of(self, key: Key) -> Layer | None:
        return next((layer for layer in self.layers if layer.supplies(key)), None)

    def of(self, key: Key | str) -> str:
        if isinstance(key, str):
            key = tuple(key.split("."))
        for i in range(len(key), 0, -1):
            if key[:i] in self.extra:
                return self.extra[key[:i]]
        layer = self.layer_of(key)
        return layer.where(key) if layer is not None else DEFAULT

    def is_default(self, key: Key | str) -> bool:
        return self.of(key) == DEFAULT


def leaves(data: Any, prefix: Key = ()) -> Iterator[tuple[Key, Any]]:
    """(dotted key, value) of every leaf of nested settings data; lists are leaves."""
    if isinstance(data, dict) and (data or not prefix):
        for k, v in data.items():
            yield from leaves(v, (*prefix, str(k)))
    else:
        yield prefix, data


_RANGE_ERRORS = {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}


def describe_error(
    exc: Exception, origins: Origins, allowed_range: Callable[[Key], str | None] | None = None
) -> str:
    """One line naming each bad value's key and where it came from (never the value); a
    number out of range names the allowed range (``allowed_range(key)``)."""
    if isinstance(exc, ValidationError):
        parts = []
        for err in exc.errors():
            loc = tuple(str(p) for p in err["loc"])
            origin = origins.of(loc) if loc else DEFAULT
            where = f" (from {origin})" if origin != DEFAULT else ""
            # never echo the offending input: it may be a secret
            allowed = allowed_range(loc) if allowed_range and err["type"] in _RANGE_ERRORS else None
            msg = f"out of range; allowed: {allowed}" if allowed else err["msg"]
            parts.append(f"{'.'.join(loc) or 'settings'}: {msg}{where}")
        return "invalid settings: " + "; ".join(parts)
    return f"invalid settings: {type(exc).__name__}: {exc}"


# ------------------------------------------------------------------------------- after loading


def scope_api_key(settings: Settings, plan: SourcePlan | None = None) -> None:
    """A key goes only to its own service (``llm/presets.py`` ``key_name``).

    ``llm.api_key`` set in a file or ``DIGEST_LLM__API_KEY`` is the user's key for the
    endpoint they configured, and is used as is.  ``OPENAI_API_KEY`` goes to OpenAI, Azure,
    or the base URL it is paired with (the SDK's convention), never to a hosted service with
    a key of its own (OpenRouter, DeepSeek, Groq: by preset or by host).  With no key: that
    service's own variable (``OPENROUTER_API_KEY``...), then the key ``digest keys set NAME``
    stored under the endpoint's own name (``presets.key_name``: ``openai`` only for OpenAI
    itself; none for a server on this machine)."""
    cfg = settings.llm
    if cfg.provider == "mock":
        return
    name = key_name(cfg.provider, cfg.base_url, cfg.preset)
    origins = settings.origins
    from_openai_variable = cfg.api_key is not None and "OPENAI_API_KEY" in origins.of(("llm", "api_key"))
    if from_openai_variable and key_variable(name) not in (None, "OPENAI_API_KEY"):
        log.info("OPENAI_API_KEY is OpenAI's key: not sent to %s", cfg.base_url or name)
        cfg.api_key = None
        origins.extra[("llm", "api_key")] = DEFAULT
    if cfg.api_key is not None or name is None:
        return
    variable = key_variable(name)
    sources: list[tuple[str, Mapping[str, str | None]]] = [("env", environ())]
    if plan is not None and plan.env_file is not None:
        sources.append((str(plan.env_file), read_dotenv(plan.env_file)))
    for where, values in sources:
        value = values.get(variable) if variable and variable != "OPENAI_API_KEY" else None
        if value:
            register_secret(value)
            cfg.api_key = SecretStr(value)
            origins.extra[("llm", "api_key")] = f"{where} {variable}"
            return
    store = KeyStore(settings.user_dir)
    value = store.get(name)
    if value:
        register_secret(value)
        cfg.api_key = SecretStr(value)
        origins.extra[("llm", "api_key")] = f"keys file {store.path} ({name})"


def apply_recorded_index(settings: Settings) -> None:
    """Where the output folder's index lives (``digest index`` records it), for every later
    command that sets no index location of its own."""
    out = OutDir(settings.out_dir)
    recorded = out.load_index_location()
    if recorded is None:
        return
    origins = settings.origins
    where = f"recorded in {out.index_location_path}"
    if recorded.chroma_url and origins.is_default(("index", "chroma_url")):
        settings.index.chroma_url = recorded.chroma_url
        origins.extra[("index", "chroma_url")] = where
        log.info("using the Chroma server %s %s (--chroma-url overrides it)", recorded.chroma_url, where)
    if recorded.embedding != settings.index.embedding and origins.is_default(("index", "embedding")):
        settings.index.embedding = recorded.embedding  # type: ignore[assignment]
        origins.extra[("index", "embedding")] = where
        log.info("using the %s embeddings the index was built with (%s)", recorded.embedding, where)
