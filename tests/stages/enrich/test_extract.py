"""The deterministic extractor: links, numbers, terms and source checks, on the seeds."""

from __future__ import annotations

import pytest

from pipeline.stages.enrich.extract import extract_metadata
from pipeline.stages.parse import parse_files
from tests.paths import SEEDS


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
