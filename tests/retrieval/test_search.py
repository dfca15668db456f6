"""Hybrid search: bilingual queries, filters, BM25 cache, CLI output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.retrieval.fusion import fusion_weights
from pipeline.retrieval.lexical import tokenize_en, tokenize_ko
from pipeline.retrieval.searcher import Searcher
from pipeline.settings import load_settings
from tests.retrieval.helpers import make_retrieval_out


def make_out(tmp: Path, **index: object):
    return make_retrieval_out(tmp, **index)


@pytest.fixture(scope="module")
def indexed(tmp_path_factory):
    return make_out(tmp_path_factory.mktemp("search"))


@pytest.fixture(scope="module")
def searcher(indexed):
    return Searcher(indexed)


def ids(hits):
    return [h.arxiv_id for h in hits]


def test_english_and_korean_queries_find_the_same_entry(searcher):
    en = searcher.search(
        "Which work splits smartphone operation into planning, decision and reflection agents?", k=3
    )
    ko = searcher.search("스마트폰 조작을 계획, 결정, 반성 에이전트로 나눈 연구는?", k=3)
    assert ids(en)[0] == "2406.01014"
    assert ids(ko)[0] == "2406.01014"
    # all-Hangul: the English side is searched with the query bridge's rendering
    assert {"bm25_ko", "bm25_en"} <= set(ko[0].ranks)


def test_latin_terms_in_a_korean_query_match_english_text(searcher):
    hits = searcher.search("MMMB 벤치마크", k=2)
    assert ids(hits)[0] == "2406.02539"


def test_filters_apply_to_every_retriever(searcher):
    q = "multilingual multimodal model"
    assert set(ids(searcher.search(q, since="2024-10-01"))) == {"2410.13232", "2412.07583", "2410.16153"}
    assert set(ids(searcher.search(q, until="2024-06-30"))) <= {"2406.02539", "2406.01014"}
    assert "2406.02539" in ids(searcher.search(q, until="2024-06-30"))
    assert set(ids(searcher.search(q, topic="Agents"))) == {"2406.01014", "2410.13232"}
    assert set(ids(searcher.search(q, min_votes=25))) == {"2410.13232", "2410.16153"}
    assert ids(searcher.search(q, since="2024-10-01", topic="multimodal")) == ["2410.16153"]
    assert searcher.search(q, since="2030-01-01") == []


def test_results_are_ranked_and_scored(searcher):
    hits = searcher.search("video diffusion on a mobile phone", k=5)
    assert ids(hits)[0] == "2412.07583"
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert hits[0].relevance is not None and 0 < hits[0].relevance <= 1
    assert hits[0].snippet and hits[0].date.isoformat() == "2024-12-11"


def test_off_topic_query_has_low_relevance(searcher):
    on = searcher.search("mixture of experts visual tokens for many languages", k=1)[0]
    off = searcher.search("How do I bake sourdough bread at home?", k=1)
    assert on.relevance > 0.5
    assert not off or off[0].relevance < 0.25


def test_korean_tokenizer_keeps_content_morphemes_and_latin_words():
    toks = tokenize_ko("Parrot은 전문가 혼합(MoE)으로 언어별 시각 토큰을 만듭니다. 12,000개")
    assert {"전문가", "혼합", "시각", "토큰", "만들"} <= set(toks)
    assert {"parrot", "moe", "12000"} <= set(toks)
    assert "은" not in toks and "으로" not in toks
    assert tokenize_en("The agents improved") == ["agent", "improv"]


def test_query_language_weights():
    s = load_settings()
    assert fusion_weights(s, "mixture of experts")["dense"] > 0
    ko = fusion_weights(s, "전문가 혼합 모델")
    # without a bridge, the English side understands none of an all-Hangul query
    assert ko["dense"] == 0 and ko["bm25_en"] == 0 and ko["bm25_ko"] == s.search.weights_ko["bm25_ko"]
    bridged = fusion_weights(s, "전문가 혼합 모델", other_side=0.5)
    assert bridged["bm25_en"] == 0.5 * s.search.weights_ko["bm25_en"]
    mixed = fusion_weights(s, "MoE 기반 LLM 라우팅")
    assert 0 < mixed["dense"] < s.search.weights_ko["dense"]


def test_bm25_indexes_are_cached_on_disk(indexed):
    cache = indexed.out_dir / "bm25"
    Searcher(indexed, retrievers=("bm25_en", "bm25_ko"))
    dirs = sorted(p.name for p in cache.iterdir() if p.is_dir())
    assert len(dirs) == 2 and {d.split("-")[0] for d in dirs} == {"en", "ko"}
    stamps = {p: p.stat().st_mtime_ns for p in cache.rglob("*")}
    Searcher(indexed, retrievers=("bm25_en", "bm25_ko")).search("world model web agents")
    assert {p: p.stat().st_mtime_ns for p in cache.rglob("*")} == stamps  # a search writes nothing


def test_search_cli_json_and_table(indexed):
    runner = CliRunner()
    base = ["--out", str(indexed.out_dir)]
    env = {"DIGEST_LLM__PROVIDER": "mock", "DIGEST_INDEX__EMBEDDING": "endpoint"}
    res = runner.invoke(main, ["search", "world model web agents", "-k", "2", "--json", *base], env=env)
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert len(data) == 2 and data[0]["arxiv_id"] == "2410.13232"
    assert {"arxiv_id", "title", "date", "votes", "score", "ranks", "snippet"} <= set(data[0])

    res = runner.invoke(main, ["search", "world model web agents", "--min-votes", "30", *base], env=env)
    assert res.exit_code == 0, res.output
    lines = res.stdout.strip().splitlines()
    assert lines[0] == "1. Web Agents with World Models"
    assert "https://arxiv.org/abs/2410.13232" in lines[1] and "2024-10-21" in lines[1]
    assert "40 votes" in lines[1]
    assert len(lines) == 2  # only one entry has 30+ votes and matches


def test_search_cli_errors_cleanly_without_index(tmp_path):
    res = CliRunner().invoke(main, ["search", "anything", "--out", str(tmp_path)])
    assert res.exit_code == 3
    assert "run `digest index` first" in res.output and "Traceback" not in res.output


@pytest.mark.slow
def test_local_model_bilingual_search(tmp_path):
    settings = make_out(tmp_path, embedding="local")
    s = Searcher(settings)
    assert ids(s.search("language-specific visual tokens via mixture of experts", k=1)) == ["2406.02539"]
    assert ids(s.search("언어별 시각 토큰을 만드는 전문가 혼합", k=1)) == ["2406.02539"]
    assert "dense" in s.search("efficient video diffusion for phones", k=1)[0].ranks


def test_search_cli_topic_must_be_in_the_taxonomy(indexed):
    runner = CliRunner()
    base = ["--out", str(indexed.out_dir)]
    env = {"DIGEST_LLM__PROVIDER": "mock", "DIGEST_INDEX__EMBEDDING": "endpoint"}
    # a misspelt topic is an error naming the valid ones, not a silent "no results"
    res = runner.invoke(main, ["search", "web agents", "--topic", "agents", *base], env=env)
    assert res.exit_code == 2 and "agents_robotics" in res.output and "no results" not in res.output
    topic = json.loads(indexed.out_dir.joinpath("metadata.jsonl").read_text().splitlines()[0])["topic"]
    res = runner.invoke(main, ["search", "model", "--topic", topic.upper(), "--json", *base], env=env)
    assert res.exit_code == 0, res.output
    hits = json.loads(res.stdout)
    assert hits and all(h["topic"] == topic for h in hits)
