"""The model to use when none was set and the endpoint serves only one.

``llm.chat_model`` defaults to gpt-4o-mini, which a local server does not have: Ollama or
vLLM answer 404, and llama.cpp servers answer with whatever they loaded while the output
would still say "gpt-4o-mini" (and be cached under that name).  When the endpoint is not
OpenAI's, the model was not set, and the endpoint lists exactly one chat model, that model
is used.  The list comes from the capabilities cache when the endpoint was seen before, else
from one quick ``GET /models``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ..store.layout import OutDir
from .capabilities import CapabilityStore
from .presets import is_official_openai, preset_values

if TYPE_CHECKING:
    from ..settings import Settings

log = logging.getLogger(__name__)


def served_models(settings: Settings, timeout: float = 5.0) -> list[str] | None:
    cfg = settings.llm
    if not cfg.base_url:
        return None
    cached = CapabilityStore(OutDir(settings.out_dir).capabilities_path).served_models(cfg.base_url)
    if cached:
        return cached
    import httpx  # here: a command whose endpoint needs no lookup does not pay for importing it

    headers = {"Authorization": f"Bearer {cfg.api_key.get_secret_value()}"} if cfg.api_key else {}
    try:
        resp = httpx.get(cfg.base_url + "/models", headers=headers, timeout=timeout)
        resp.raise_for_status()
        data = resp.json().get("data") or []
    except (httpx.HTTPError, ValueError, AttributeError):
        return None
    return sorted(str(d["id"]) for d in data if isinstance(d, dict) and d.get("id"))


def pick_served_model(settings: Settings) -> str | None:
    """The endpoint's only chat model, when the model was not set and is not served; else None."""
    cfg = settings.llm
    if cfg.provider != "openai" or not cfg.base_url or is_official_openai(cfg.provider, cfg.base_url):
        return None
    if cfg.is_explicit("chat_model") or (cfg.preset and "chat_model" in preset_values(cfg.preset)):
        return None
    models = served_models(settings)
    if not models or cfg.chat_model in models:
        return None
    chat = [m for m in models if "embed" not in m.lower()]
    if len(chat) != 1:
        return None
    log.info("using %s, the only model %s serves (--model to choose another)", chat[0], cfg.base_url)
    return chat[0]
