"""all-MiniLM-L6-v2 in numpy: the sentence-transformers model (BERT encoder, mean pooling,
unit norm) computed from the weights the offline package ships, without torch.

- Weights: ``model.safetensors`` memory-mapped and read in place (the format is an 8-byte
  header length, a JSON header, then raw little-endian tensors), so loading costs
  milliseconds and only the pages a text touches are read.
- Tokenizer: the model's own ``tokenizer.json`` through ``tokenizers`` (WordPiece, lower
  case), truncated at 256 tokens as sentence-transformers does for this model.
- Texts are sorted by length and run in batches of at most ``BATCH_SIZE`` texts and
  ``BATCH_TOKENS`` padded tokens, so padding and the attention matrices stay small.
- Threads: BLAS runs single-threaded (``threadpoolctl``) and a call of several batches runs
  them on a thread pool, one batch per core (numpy releases the GIL).  A query is one batch
  on one thread: BLAS threads would only add overhead, and a server answering several
  queries at once would oversubscribe the cores.  Coarse threads also keep their speed on a
  busy machine, where BLAS threads, which synchronise at every matrix product, measured up
  to 25 times slower than one thread.

Vectors equal sentence-transformers' to ~1e-7 cosine (``tests/retrieval/test_minilm.py``
checks reference vectors it recorded).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError

MAX_TOKENS = 256  # sentence-transformers' max_seq_length for this model
BATCH_SIZE = 32
BATCH_TOKENS = 4096  # padded tokens per batch: 16 texts of 256 tokens, 32 of 128
_BLOCK_ELEMS = 1 << 16  # elementwise work in blocks of this many floats (cache-sized)
_DTYPES = {"F32": np.float32, "F16": np.float16, "BF16": None, "I64": np.int64, "I32": np.int32}
_REQUIRED = (
    "embeddings.word_embeddings.weight",
    "embeddings.position_embeddings.weight",
    "embeddings.token_type_embeddings.weight",
    "embeddings.LayerNorm.weight",
    "embeddings.LayerNorm.bias",
)


def load_safetensors(path: Path) -> dict[str, np.ndarray]:
    """The tensors of a ``.safetensors`` file as read-only views of one memory map."""
    path = Path(path)
    try:
        raw = np.memmap(path, dtype=np.uint8, mode="r")
        n = int.from_bytes(bytes(raw[:8]), "little")
        if not 2 <= n <= len(raw) - 8:
            raise ValueError("bad header length")
        header = json.loads(bytes(raw[8 : 8 + n]))
    except (OSError, ValueError) as exc:  # json.JSONDecodeError is a ValueError
        raise ConfigError(f"cannot read the embedding model weights {path}: {exc}") from None
    base = 8 + n
    out: dict[str, np.ndarray] = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        kind = _DTYPES.get(info.get("dtype"))
        if kind is None:
            raise ConfigError(f"{path}: tensor {name} has unsupported dtype {info.get('dtype')}")
        start, end = info["data_offsets"]
        dtype = np.dtype(kind).newbyteorder("<")
        if base + end > len(raw) or (end - start) != dtype.itemsize * math.prod(info["shape"]):
            raise ConfigError(f"{path}: tensor {name} lies outside the file (truncated download?)")
        out[name.removeprefix("bert.")] = raw[base + start : base + end].view(dtype).reshape(info["shape"])
    return out


def _layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    x = x - x.mean(-1, keepdims=True)
    var = np.mean(np.square(x), -1, keepdims=True)
    x /= np.sqrt(var + eps)
    x *= w
    x += b
    return x


def _gelu(x: np.ndarray) -> np.ndarray:
    """Exact (erf) GELU, as BERT's ``gelu``, in place on a 2-d array.  erf by Abramowitz &
    Stegun 7.1.26 (absolute error < 1.5e-7, below float32's resolution of the result).
    Row blocks keep the temporaries in cache."""
    c, p = np.float32(1.0 / math.sqrt(2.0)), np.float32(0.3275911)
    coef = [np.float32(v) for v in (1.061405429, -1.453152027, 1.421413741, -0.284496736, 0.254829592)]
    rows = max(1, _BLOCK_ELEMS // max(1, x.shape[-1]))
    for start in range(0, x.shape[0], rows):
        xb = x[start : start + rows]
        z = np.abs(xb)
        z *= c
        t = z * p
        t += np.float32(1.0)
        np.reciprocal(t, out=t)
        poly = t * coef[0]
        for a in coef[1:]:
            poly += a
            poly *= t
        np.minimum(z, np.float32(9.0), out=z)  # erfc(9) < 1e-36: no subnormal floats (slow)
        np.square(z, out=z)
        np.negative(z, out=z)
        np.exp(z, out=z)
        poly *= z  # erfc(|x| / sqrt 2)
        # gelu(x) = x (1 + erf(x / sqrt 2)) / 2 = x (1/2 + sign(x) (1/2 - erfc(|x| / sqrt 2) / 2))
        poly *= np.float32(-0.5)
        poly += np.float32(0.5)
        np.copysign(poly, xb, out=poly)
        poly += np.float32(0.5)
        xb *= poly
    return x


class MiniLM:
    """The encoder.  Thread-safe: it holds no state that a call changes."""

    def __init__(self, model_dir: Path) -> None:
        model_dir = Path(model_dir)
        try:
            cfg = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read the embedding model config in {model_dir}: {exc}") from None
        self.heads = int(cfg["num_attention_heads"])
        self.layers = int(cfg["num_hidden_layers"])
        self.dim = int(cfg["hidden_size"])
        self.eps = float(cfg.get("layer_norm_eps", 1e-12))
        self.w = load_safetensors(model_dir / "model.safetensors")
        missing = [n for n in _REQUIRED if n not in self.w]
        if missing:
            raise ConfigError(f"{model_dir}: not a BERT model (missing {', '.join(missing)})")
        self.tokenizer = _load_tokenizer(model_dir / "tokenizer.json")

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Model tokens of each text (after truncation), [CLS] and [SEP] included."""
        return [len(e.ids) for e in self.tokenizer.encode_batch(list(texts))]

    def encode(
        self, texts: Sequence[str], batch_size: int = BATCH_SIZE, workers: int | None = None
    ) -> np.ndarray:
        """Unit-normalised float32 vectors, one row per text, in the order given.  ``workers``:
        threads for a call of several batches (default: one per core)."""
        if isinstance(texts, str):
            raise TypeError("encode takes a list of texts")
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not len(texts):
            return out
        encs = self.tokenizer.encode_batch([t if isinstance(t, str) else str(t) for t in texts])
        batches = _batches(sorted(range(len(encs)), key=lambda i: len(encs[i].ids)), encs, batch_size)

        def run(idx: list[int]) -> None:
            out[idx] = self._forward([encs[i] for i in idx])

        workers = min(len(batches), workers or _cores())
        with _single_blas_thread():
            if workers <= 1:
                for idx in batches:
                    run(idx)
            else:
                from concurrent.futures import ThreadPoolExecutor

                with ThreadPoolExecutor(workers, thread_name_prefix="minilm") as pool:
                    list(pool.map(run, batches))
        return out

    def _dense(self, x: np.ndarray, prefix: str) -> np.ndarray:
        # x: (tokens, in); the weight is stored (out, in): its transpose is a free view
        y = x @ self.w[prefix + ".weight"].T
        y += self.w[prefix + ".bias"]
        return y

    def _forward(self, encs: list[Any]) -> np.ndarray:
        w = self.w
        n, length = len(encs), max(len(e.ids) for e in encs)
        ids = np.zeros((n, length), dtype=np.int64)
        types = np.zeros((n, length), dtype=np.int64)
        mask = np.zeros((n, length), dtype=np.float32)
        for i, e in enumerate(encs):
            k = len(e.ids)
            ids[i, :k], types[i, :k], mask[i, :k] = e.ids, e.type_ids, 1.0
        x = w["embeddings.word_embeddings.weight"][ids]
        x += w["embeddings.position_embeddings.weight"][:length][None, :, :]
        x += w["embeddings.token_type_embeddings.weight"][types]
        x = x.reshape(n * length, self.dim)
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], self.eps)
        heads, hd = self.heads, self.dim // self.heads
        bias = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]  # padding gets no attention
        scale = np.float32(1.0 / math.sqrt(hd))

        def split(t: np.ndarray) -> np.ndarray:  # (n*L, dim) -> (n, heads, L, hd)
            return np.ascontiguousarray(t.reshape(n, length, heads, hd).transpose(0, 2, 1, 3))

        for layer in range(self.layers):
            p = f"encoder.layer.{layer}."
            q = split(self._dense(x, p + "attention.self.query"))
            k = split(self._dense(x, p + "attention.self.key"))
            v = split(self._dense(x, p + "attention.self.value"))
            scores = q @ k.transpose(0, 1, 3, 2)
            scores *= scale
            scores += bias
            scores -= scores.max(-1, keepdims=True)
            np.maximum(scores, np.float32(-80.0), out=scores)  # exp stays a normal float (fast)
            np.exp(scores, out=scores)
            scores /= scores.sum(-1, keepdims=True)
            ctx = (scores @ v).transpose(0, 2, 1, 3).reshape(n * length, self.dim)
            a = self._dense(ctx, p + "attention.output.dense")
            a += x
            x = _layer_norm(
                a,
                w[p + "attention.output.LayerNorm.weight"],
                w[p + "attention.output.LayerNorm.bias"],
                self.eps,
            )
            h = _gelu(self._dense(x, p + "intermediate.dense"))
            o = self._dense(h, p + "output.dense")
            o += x
            x = _layer_norm(o, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], self.eps)
        x = x.reshape(n, length, self.dim)
        pooled = np.einsum("nld,nl->nd", x, mask) / np.maximum(mask.sum(1, keepdims=True), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)


def _batches(order: list[int], encs: list[Any], batch_size: int) -> list[list[int]]:
    """Consecutive runs of ``order`` (sorted by length) with at most ``batch_size`` texts and
    ``BATCH_TOKENS`` padded tokens each."""
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:
        longest = len(encs[i].ids)  # sorted: the newest is the longest
        if current and (len(current) >= batch_size or (len(current) + 1) * longest > BATCH_TOKENS):
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _load_tokenizer(path: Path) -> Any:
    from tokenizers import Tokenizer  # installed with chromadb

    try:
        tok = Tokenizer.from_file(str(path))
    except Exception as exc:  # the Rust side raises plain Exceptions
        raise ConfigError(f"cannot read the embedding model tokenizer {path}: {exc}") from None
    tok.no_padding()
    tok.enable_truncation(MAX_TOKENS)
    return tok


class _SingleBlasThread:
    """One BLAS thread while any encode call runs (the limit is process-wide: the first call
    in sets it, the last one out restores it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active = 0
        self._controller: Any = None
        self._limiter: Any = None

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            if self._active == 0:
                self._limiter = self._limit()
            self._active += 1
        try:
            yield
        finally:
            with self._lock:
                self._active -= 1
                if self._active == 0 and self._limiter is not None:
                    self._limiter.restore_original_limits()
                    self._limiter = None

    def _limit(self) -> Any:
        try:
            if self._controller is None:
                from threadpoolctl import ThreadpoolController

                self._controller = ThreadpoolController()
            return self._controller.limit(limits=1, user_api="blas")
        except Exception:  # pragma: no cover - no threadpoolctl, or a BLAS it cannot drive
            return None


_single_blas_thread = _SingleBlasThread()
