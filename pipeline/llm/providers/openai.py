"""Any OpenAI-compatible endpoint: OpenAI itself, Ollama, vLLM, llama.cpp's server...

The API key is required, except for a server on this machine (loopback, or a local preset),
which needs none.  Which key goes where is decided by the settings (``presets.key_name``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import openai

from ...errors import ConfigError
from ..base import ClientParts, HttpOptions
from ..presets import key_name, key_variable

if TYPE_CHECKING:
    import httpx

    from ...settings import Settings

DEFAULT_BASE_URL = "https://api.openai.com/v1"


def sdk_client(
    settings: Settings, http: HttpOptions, base_url: str, api_key: str, **kw: Any
) -> openai.OpenAI:
    """The SDK client every OpenAI-style provider uses: settings' timeout and retries."""
    return openai.OpenAI(
        api_key=api_key,
        base_url=base_url,
        timeout=settings.llm.timeout,
        max_retries=settings.llm.max_retries,
        http_client=http.client(**kw),
    )


def build(
    settings: Settings, http: HttpOptions, *, transport: httpx.BaseTransport | None = None
) -> ClientParts:
    cfg = settings.llm
    base_url = cfg.base_url or DEFAULT_BASE_URL
    secret = cfg.api_key.get_secret_value() if cfg.api_key else ""
    if secret:
        api_key = secret
    else:
        name = key_name(cfg.provider, base_url, cfg.preset)
        if name is None:
            api_key = "no-key"  # Ollama, vLLM, llama.cpp server need none
        else:
            variable = key_variable(name) or ("OPENAI_API_KEY" if name == "openai" else "DIGEST_LLM__API_KEY")
            raise ConfigError(
                f"no API key for {urlsplit(base_url).hostname}: set {variable}, or store it with "
                f"`digest keys set {name}` (or use --llm mock)"
            )
    return ClientParts(sdk_client(settings, http, base_url, api_key, transport=transport), base_url)
