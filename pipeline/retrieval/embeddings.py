"""Embedding functions for the Chroma index: the bundled offline MiniLM model (computed in
numpy, ``minilm.py``: no torch), or the LLM endpoint's embedding model (``embedder.py``).

Both are registered with Chroma (``name`` / ``get_config`` / ``build_from_config``) so a
stored collection reopens with no network; Chroma's own default function would try to
download a model.  The local model is loaded once per process, lazily.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
from chromadb.utils.embedding_functions import register_embedding_function

from ..errors import ConfigError
from .embedder import (  # noqa: F401 - re-exported: the index and the tests name them here
    LOCAL_MODELS,
    collection_name,
    embedding_model_name,
    endpoint_vectors,
    load_local_model,
    local_vectors,
)

if TYPE_CHECKING:
    from ..settings import Settings


@register_embedding_function
class LocalMiniLMEmbedding(EmbeddingFunction[Documents]):
    """all-MiniLM-L6-v2 from the local package; unit-normalised vectors (cosine space)."""

    def __init__(self, model: str = "all-MiniLM-L6-v2", batch_size: int = 32) -> None:
        if model not in LOCAL_MODELS:
            raise ConfigError(f"unknown local embedding model {model!r}")
        self.model = model
        self.batch_size = batch_size

    def __call__(self, input: Documents) -> Embeddings:
        if not input:
            return []
        return [v for v in local_vectors(self.model, input, self.batch_size)]

    @staticmethod
    def name() -> str:
        return "digest-local-minilm"

    def default_space(self) -> str:  # type: ignore[override]
        return "cosine"

    def supported_spaces(self) -> list[str]:  # type: ignore[override]
        return ["cosine", "ip", "l2"]

    def get_config(self) -> dict[str, Any]:
        return {"model": self.model, "batch_size": self.batch_size}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> LocalMiniLMEmbedding:
        return LocalMiniLMEmbedding(
            config.get("model", "all-MiniLM-L6-v2"), int(config.get("batch_size", 32))
        )


@register_embedding_function
class EndpointEmbedding(EmbeddingFunction[Documents]):
    """The OpenAI-compatible endpoint's embedding model, through ``pipeline.llm``.

    Rebuilt from a stored config it has no client (the config holds no secrets): pass a
    fresh instance, as :func:`embedding_function` does, to embed.
    """

    def __init__(self, model: str, llm: Any = None) -> None:
        self.model = model
        self._llm = llm

    def __call__(self, input: Documents) -> Embeddings:
        if not input:
            return []
        return [v for v in endpoint_vectors(self._llm, self.model, input)]

    @staticmethod
    def name() -> str:
        return "digest-endpoint"

    def default_space(self) -> str:  # type: ignore[override]
        return "cosine"

    def supported_spaces(self) -> list[str]:  # type: ignore[override]
        return ["cosine", "ip", "l2"]

    def get_config(self) -> dict[str, Any]:
        return {"model": self.model}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> EndpointEmbedding:
        return EndpointEmbedding(str(config.get("model", "")))


def embedding_function(settings: Settings, llm: Any = None) -> EmbeddingFunction[Documents]:
    """The embedding function the settings ask for (the endpoint one builds its LLM lazily)."""
    if settings.index.embedding == "local":
        return LocalMiniLMEmbedding(settings.index.local_model)
    if llm is None:
        from ..llm.client import make_llm

        llm = make_llm(settings)
    return EndpointEmbedding(settings.llm.embedding_model, llm)
