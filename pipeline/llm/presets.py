"""Presets for the servers people run (``llm.preset`` / ``--preset``), and what makes an
endpoint local.

A preset is one entry of :data:`PRESETS`: the base URL, structured-output mode,
concurrency, timeout and retries that suit that server, the key variable it reads, and
whether it runs on this machine (local endpoints cost $0 unless prices are set).  A
setting given explicitly (flag, environment, TOML) always wins over the preset.  Light
module: ``settings.py`` imports it, so it must not import the ``openai`` SDK.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

OPENAI_BASE_URL = "https://api.openai.com/v1"


@dataclass(frozen=True)
class Preset:
    base_url: str | None
    json_mode: str  # see LLMSettings.json_mode
    concurrency: int
    timeout: float  # base seconds per request; it grows with the expected output tokens
    max_retries: int
    provider: str = "openai"
    local: bool = False  # runs on this machine: $0 unless prices are set
    chat_model: str | None = None  # a default model where the service has no gpt-4o-mini
    key_env: str | None = None  # the service's own key variable (besides OPENAI_API_KEY)
    start: str = ""  # how to get the server running (README, `digest doctor`)


PRESETS: dict[str, Preset] = {
    "openai": Preset(OPENAI_BASE_URL, "json_schema", 8, 60, 5, key_env="OPENAI_API_KEY"),
    "azure": Preset(None, "json_schema", 8, 60, 5, provider="azure", start="set llm.azure_endpoint"),
    "ollama": Preset(
        "http://localhost:11434/v1", "auto", 2, 300, 2, local=True, start="ollama serve; ollama pull MODEL"
    ),
    # llama.cpp's llama-server and llama-cpp-python's server: one request at a time, and a
    # request whose client gave up keeps the model busy, so few retries and one in flight
    "llamacpp": Preset(
        "http://127.0.0.1:8080/v1",
        "json_object_schema",
        1,
        120,
        1,
        local=True,
        start="llama-server -m MODEL.gguf --port 8080  (or python -m llama_cpp.server --model MODEL.gguf --port 8080)",
    ),
    "vllm": Preset(
        "http://localhost:8000/v1", "json_schema", 8, 120, 3, local=True, start="vllm serve MODEL"
    ),
    "lmstudio": Preset(
        "http://localhost:1234/v1", "json_schema", 1, 300, 2, local=True, start="lms server start"
    ),
    "openrouter": Preset(
        "https://openrouter.ai/api/v1",
        "auto",
        4,
        120,
        5,
        chat_model="openai/gpt-4o-mini",
        key_env="OPENROUTER_API_KEY",
    ),
    "deepseek": Preset(
        "https://api.deepseek.com/v1",
        "json_object",
        8,
        120,
        5,
        chat_model="deepseek-chat",
        key_env="DEEPSEEK_API_KEY",
    ),
    "groq": Preset(
        "https://api.groq.com/openai/v1",
        "auto",
        4,
        60,
        5,
        chat_model="llama-3.3-70b-versatile",
        key_env="GROQ_API_KEY",
    ),
}

# the settings a preset fills when they were not given explicitly
PRESET_FIELDS = ("provider", "base_url", "json_mode", "concurrency", "timeout", "max_retries", "chat_model")


def preset_names() -> tuple[str, ...]:
    return tuple(PRESETS)


def preset_values(name: str) -> dict[str, object]:
    """The settings of a preset, by ``LLMSettings`` field name (unset ones left out)."""
    p = PRESETS[name]
    values = {f: getattr(p, f) for f in PRESET_FIELDS}
    return {k: v for k, v in values.items() if v is not None}


def is_loopback(url: str | None) -> bool:
    """Is ``url`` on this machine (localhost, 127.x, ::1)?"""
    host = urlsplit(url or "").hostname or ""
    if host in ("localhost", "host.docker.internal") or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_official_openai(provider: str, base_url: str | None) -> bool:
    return provider == "openai" and (base_url or OPENAI_BASE_URL).rstrip("/") == OPENAI_BASE_URL


def is_local_endpoint(provider: str, base_url: str | None, preset: str | None) -> bool:
    """A server on this machine (or a local preset): it costs nothing per token."""
    if provider != "openai":
        return False
    return is_loopback(base_url) or bool(preset and PRESETS[preset].local)


def host_of(url: str | None) -> str:
    return (urlsplit(url or "").hostname or "").lower()


def key_name(provider: str, base_url: str | None, preset: str | None) -> str | None:
    """The name the endpoint's API key is stored under (``digest keys set NAME``), so that a
    key only ever goes to its own service: ``openai`` for OpenAI itself (no base URL, or
    api.openai.com), ``azure`` for Azure OpenAI, a hosted preset's name for that service
    (``openrouter``, ``deepseek``, ``groq``: by preset or by its host), else the base URL's
    host name (``digest keys set api.together.xyz``).  None where no key is needed: the
    mock, and servers on this machine."""
    if provider == "mock":
        return None
    if provider == "azure":
        return "azure"
    if is_local_endpoint(provider, base_url, preset):
        return None
    if is_official_openai(provider, base_url):
        return "openai"
    host = host_of(base_url)
    for name, p in PRESETS.items():
        if p.base_url and not p.local and host_of(p.base_url) == host:
            return name
    return host or None


def key_variable(name: str | None) -> str | None:
    """The environment variable of a hosted preset's own key (``OPENROUTER_API_KEY``...)."""
    preset = PRESETS.get(name or "")
    return preset.key_env if preset else None
