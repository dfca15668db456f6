"""The deterministic extractor: links, numbers, terms and source checks, on the seeds."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.extract import (
    classify_url,
    extract_metadata,
    extract_numbers,
    find_urls,
    source_numbers,
    value_in_source,
)
from pipeline.parse import parse_files

SEEDS = Path(__file__).resolve().parent.parent / "seeds"


@pytest.fixture(scope="module")
def seed_entries() -> dict[str, list]:
    out = {}
    for name in ("000", "003"):
        (path,) = SEEDS.glob(f"{name}_*.txt")
        out[name] = parse_files([path]).entries
    return out


def _meta_by_title(entries: list, words: str):
    (entry,) = [e for e in entries if e.title.startswith(words)]
    return extract_metadata(entry)


def test_code_and_project_urls_of_digest_003(seed_entries: dict) -> None:
    metas = [extract_metadata(e) for e in seed_entries["003"]]
    code = [u for m in metas for u in m.code_urls]
    assert code == [
        "https://github.com/X-PLUG/MobileAgent",
        "https://github.com/itsnamgyu/block-transformer",  # written glued to "에서"
        "https://github.com/posterllava/PosterLLaVA",
        "https://github.com/XiaoduoAILab/XmodelLM",
    ]
    ouro = _meta_by_title(seed_entries["003"], "Ouroboros3D")
    assert ouro.project_urls == ["https://costwen.github.io/Ouroboros3D/"]
    assert ouro.code_urls == [] and ouro.dataset_urls == []
    block = _meta_by_title(seed_entries["003"], "Block Transformer")
    assert block.field_sources["code_urls"] == "deterministic"
    assert "project_urls" not in block.field_sources  # empty fields claim no source
    assert ("10-20배", "multiplier") in [(n.value, n.kind) for n in block.numbers]


def test_percentages_of_digest_000(seed_entries: dict) -> None:
    first = extract_metadata(seed_entries["000"][0])
    (m,) = [n for n in first.numbers if n.value == "3.74%"]
    assert m.kind == "percent" and "훈련 데이터" in m.context
    med = _meta_by_title(seed_entries["000"], "MedMobile")
    values = [n.value for n in med.numbers]
    assert "75.7%" in values and "76.1%" in values and "3.8억" in values and "3.8B" in values
    assert "100배" in values
    mention = next(n for n in med.numbers if n.value == "75.7%")
    assert "MedQA" in mention.context
    # digits inside names are no quantities
    assert not any(v in ("4", "3") for v in values)  # GPT-4, phi-3-mini
    assert med.arxiv_id == "2410.09019" and med.votes is not None and med.authors


def test_every_seed_entry_gets_deterministic_fields(seed_entries: dict) -> None:
    for entries in seed_entries.values():
        for e in entries:
            m = extract_metadata(e)
            assert m.entry_id == e.id and m.llm_status == "skipped"
            assert m.arxiv_id and m.date and m.authors
            assert all(not u.startswith("https://cdn-thumbnails") for u in m.project_urls)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("LLaMA2-7B 모델과 GPT-4를 비교", [("7B", "size")]),
        ("처리량이 1.5x 빨라지고 비용은 2배 줄었다", [("1.5x", "multiplier"), ("2배", "multiplier")]),
        ("질문 12,000개와 5~10% 향상", [("12,000", "number"), ("5~10%", "percent")]),
        ("3D 생성과 Qwen2.5 모델, 2024-06-06 기준", []),
        ("정확도가 4.2%p 올랐다", [("4.2%p", "percent")]),
    ],
)
def test_number_mentions(text: str, expected: list) -> None:
    assert [(n.value, n.kind) for n in extract_numbers(text)] == expected


def test_urls_glued_to_hangul_and_without_scheme() -> None:
    text = (
        "코드는 https://github.com/a/b에서, 데이터는 (https://huggingface.co/datasets/o/d)와 "
        "github.com/c/d 에서 볼 수 있습니다. https://x.github.io/p/."
    )
    assert find_urls(text) == [
        "https://github.com/a/b",
        "https://huggingface.co/datasets/o/d",
        "https://github.com/c/d",
        "https://x.github.io/p/",
    ]


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("https://github.com/X-PLUG/MobileAgent", "code"),
        ("https://gitlab.com/group/project", "code"),
        ("https://huggingface.co/spaces/org/demo", "code"),
        ("https://huggingface.co/meta-llama/Llama-2-7b", "code"),
        ("https://huggingface.co/datasets/org/data", "dataset"),
        ("https://www.kaggle.com/datasets/u/d", "dataset"),
        ("https://zenodo.org/records/123", "dataset"),
        ("https://huggingface.co/papers/2406.02539", "paper"),
        ("https://arxiv.org/abs/2406.02539", "paper"),
        ("https://costwen.github.io/Ouroboros3D/", "project"),
        ("https://example.com/project", "project"),
    ],
)
def test_classify_url(url: str, kind: str) -> None:
    assert classify_url(url) == kind


def test_value_in_source_normalises_numbers() -> None:
    korean = "공공 표 1,000개, 정확도 75.7%, 3.8억 파라미터, 처리량 2배"
    nums = source_numbers([korean])
    for ok in ("1000", "1,000", "75.7", "75.70%", "380M", "2x", "3.8억"):
        assert value_in_source(ok, nums, korean), ok
    for bad in ("81.2%", "1,001", "76%", "4x"):
        assert not value_in_source(bad, nums, korean), bad
    # a value without digits must be written in the source
    assert value_in_source("state of the art", set(), "reaches State of the Art results")
    assert not value_in_source("best", set(), "reaches strong results")
    # numbers of the English translation count too
    assert value_in_source("7.3M", source_numbers([], ["a corpus of 7.3 million pairs"]), "")
