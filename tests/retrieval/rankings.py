"""The seeds' index and the queries whose rankings ``test_rankings.py`` pins down."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

from pipeline.settings import Settings, load_settings
from tests.paths import FIXTURES, SEEDS

# (query, filters): English, Korean, mixed, one-word, filtered
QUERIES: list[tuple[str, dict[str, Any]]] = [
    ("multilingual visual instruction tuning", {}),
    ("diffusion model distillation", {}),
    ("mixture of experts routing for vision tokens", {}),
    ("video generation benchmark", {}),
    ("reinforcement learning from human feedback", {}),
    ("LLM", {}),
    ("다국어 시각 지시 튜닝", {}),
    ("확산 모델 증류", {}),
    ("대형 언어 모델의 추론 능력", {}),
    ("에이전트 벤치마크", {}),
    ("MoE 기반 LLM 라우팅", {}),
    ("GPT-4V 평가", {}),
    ("language model agents", {"min_votes": 20}),
    ("image generation", {"since": "2024-10-01"}),
]
# the lexical retrievers fused, and each retriever alone.  Not the full hybrid: the mock's
# hashed embeddings leave many chunks at exactly zero similarity, which Chroma's HNSW returns
# in a different order on every run, and their ranks reach the fused tail.
RETRIEVER_SETS = {
    "lexical": ("bm25_en", "bm25_ko"),
    "bm25_en": ("bm25_en",),
    "bm25_ko": ("bm25_ko",),
    "dense": ("dense",),
}


def build_seeds_index(out: Path) -> Settings:
    """The seeds parsed, with the mock LLM's translations of them (frozen in
    ``seeds_translations.jsonl.gz``), indexed with the mock's embeddings."""
    from pipeline.stages.index import index_stage
    from pipeline.stages.parse import parse_stage

    settings = load_settings(
        out_dir=out,
        cache_dir=out / "cache",
        progress="off",
        llm={"provider": "mock"},
        index={"embedding": "endpoint"},
        translate={"memory_files": []},  # the frozen translations only (a memory's pair would win)
    )
    parse_stage(settings, [SEEDS])
    with gzip.open(FIXTURES / "seeds_translations.jsonl.gz", "rb") as src:
        (out / "translations.jsonl").write_bytes(src.read())
    index_stage(settings)
    return settings


def rankings(settings: Settings) -> list[dict[str, Any]]:
    from pipeline.retrieval.searcher import Searcher

    searcher = Searcher(settings)
    out = []
    for query, filters in QUERIES:
        row: dict[str, Any] = {"query": query, "filters": filters}
        for label, retrievers in RETRIEVER_SETS.items():
            hits = searcher.search(query, k=10, retrievers=retrievers, **filters)
            row[label] = [h.entry_id for h in hits]
        out.append(row)
    return out
