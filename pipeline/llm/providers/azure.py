"""Azure OpenAI: ``openai.AzureOpenAI`` with ``llm.azure_endpoint``
(``https://<resource>.openai.azure.com``) and ``llm.api_version``; the deployment is
``llm.chat_model`` (and ``llm.embedding_model`` for embeddings), as Azure names models by
their deployment.  The key is ``llm.api_key`` (``OPENAI_API_KEY`` / ``DIGEST_LLM__API_KEY``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import openai

from ...errors import ConfigError
from ..base import ClientParts, HttpOptions

if TYPE_CHECKING:
    import httpx

    from ...settings import Settings


def build(
    settings: Settings, http: HttpOptions, *, transport: httpx.BaseTransport | None = None
) -> ClientParts:
    cfg = settings.llm
    endpoint = cfg.azure_endpoint
    if not endpoint:
        raise ConfigError(
            "provider azure needs llm.azure_endpoint (https://<resource>.openai.azure.com): "
            "set DIGEST_LLM__AZURE_ENDPOINT or [llm] azure_endpoint"
        )
    if cfg.api_key is None:
        raise ConfigError("no API key for Azure OpenAI: set OPENAI_API_KEY or DIGEST_LLM__API_KEY")
    client = openai.AzureOpenAI(
        azure_endpoint=endpoint,
        api_version=cfg.api_version,
        api_key=cfg.api_key.get_secret_value(),
        timeout=cfg.timeout,
        max_retries=cfg.max_retries,
        http_client=http.client(transport),
    )
    return ClientParts(client, endpoint)
