"""The retriever registry: names defined once (settings, CLI and searcher read them from it);
a new retriever is one class plus one registration line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pipeline.records import IndexDoc
from pipeline.retrieval import base
from pipeline.retrieval.base import RETRIEVERS, RetrieverSpec, default_weights, retriever_names
from pipeline.retrieval.searcher import Searcher
from pipeline.settings import Settings, load_settings
from tests.retrieval.helpers import make_retrieval_out


class TitleRanking:
    def __init__(self, order: list[int]) -> None:
        self.order = order

    def relevance(self, position: int) -> float:
        return 1.0 if position in self.order else 0.0


class TitleWords:
    """A toy retriever: documents whose title shares a word with the query, by title order."""

    name = "title"

    def __init__(self, settings: Settings, docs: list[IndexDoc], llm: Any = None) -> None:
        self.titles = [set(d.title.lower().split()) for d in docs]

    @classmethod
    def prepare(cls, settings: Settings, docs: list[IndexDoc]) -> None:
        pass

    def warm_up(self) -> None:
        pass

    def rank(self, query: str, allowed: np.ndarray, depth: int, where: Any = None) -> TitleRanking:
        words = set(query.lower().split())
        hits = [i for i, t in enumerate(self.titles) if allowed[i] and words & t]
        return TitleRanking(hits[:depth])


def test_settings_and_cli_read_the_names_from_the_registry() -> None:
    from pipeline.cli.retrieval import eval_group

    settings = load_settings(None)
    assert set(settings.search.weights_en) == set(settings.search.weights_ko) == set(retriever_names())
    assert settings.search.weights_ko == default_weights("ko")
    option = next(p for p in eval_group.commands["retrieval"].params if p.name == "retrievers")
    assert tuple(option.type.choices) == retriever_names()  # type: ignore[attr-defined]


def test_a_new_retriever_is_one_registration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = RetrieverSpec("tests.retrieval.test_registry:TitleWords", 1.0, 1.0, "title words", always=False)
    monkeypatch.setitem(base.RETRIEVERS, "title", spec)
    assert "title" in retriever_names()
    settings = make_retrieval_out(tmp_path)  # settings defaults now weigh "title" too
    searcher = Searcher(settings, retrievers=("title", "bm25_en", "bm25_ko"))
    assert "title" in searcher.retrievers and "dense" not in searcher.retrievers
    hits = searcher.search("Mobile-Agent-v2 mobile device operation", k=3, retrievers=("title",))
    assert hits and all(h.ranks == {"title": i} for i, h in enumerate(hits, 1))
    fused = searcher.search("Mobile-Agent-v2 mobile device operation", k=3, retrievers=("title", "bm25_en"))
    assert any("title" in h.ranks and "bm25_en" in h.ranks for h in fused)
    assert set(RETRIEVERS) >= {"dense", "bm25_en", "bm25_ko", "title"}
