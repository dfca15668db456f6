"""The query bridge (word associations mined from the corpus's own translations) and the LLM's
query translation: a Korean query reaches the English side, an English one the Korean side."""

from __future__ import annotations

import json

import pytest

from pipeline.llm.client import make_llm
from pipeline.llm.mock import MockLLM
from pipeline.retrieval.align import ibm1, translation_table
from pipeline.retrieval.bridge import Bridge, load_bridge, plan_query
from pipeline.retrieval.bridge_table import build_table, sentence_pairs
from pipeline.retrieval.lexical import tokenize_en
from pipeline.retrieval.query_translation import translate_query
from pipeline.retrieval.searcher import Searcher
from tests.retrieval.helpers import change_translation, make_retrieval_out


def _split(text: str) -> list[str]:  # a stand-in for the Korean analyser: fast and predictable
    return [w.strip(".,") for w in text.split() if w.strip(".,")]


PAIRS = [
    ("영상 생성 모델.", "A video generation model."),
    ("영상 편집 방법.", "A video editing method."),
    ("음성 생성 연구.", "A speech generation study."),
    ("음성 인식 모델.", "A speech recognition model."),
    ("영상 인식 데이터.", "Video recognition data."),
    ("음성 편집 도구.", "A speech editing tool."),
]


def test_ibm1_learns_word_translations_from_sentence_pairs():
    pairs = [(_split(k), e.lower().strip(".").split()) for k, e in PAIRS]
    table = translation_table(ibm1(pairs), min_prob=0.2, top=2)
    assert table["영상"][0][0] == "video"
    assert table["음성"][0][0] == "speech"
    assert table["생성"][0][0] == "generation"


def test_table_bridges_both_ways_with_glossary_and_glosses():
    table = build_table(PAIRS, {"미세 조정": "fine-tuning"}, ["증류(distillation) 기법을 씁니다."], _split)
    bridge = Bridge(table)
    exp = bridge.to_english("영상 생성")
    assert set(tokenize_en("video generation")) <= set(exp.terms) and exp.bridged == ["영상", "생성"]
    assert "video" in exp.text.lower()
    assert set(tokenize_en("fine-tuning")) <= set(bridge.to_english("미세 조정 방법").terms)  # glossary
    # a gloss written in the digest
    assert set(tokenize_en("distillation")) <= set(bridge.to_english("증류 기법").terms)
    back = bridge.to_korean("speech recognition")
    assert {"음성", "인식"} <= set(back.terms)
    # a word the corpus never translates is not bridged (no guessing)
    assert bridge.to_english("양자 컴퓨터").terms == {}


def test_sentences_pair_one_to_one_only_when_counts_match():
    assert len(sentence_pairs("하나. 둘.", "One. Two.")) == 2
    assert sentence_pairs("하나. 둘.", "One and two.") == [("하나. 둘.", "One and two.")]


def test_plan_scales_the_other_side_by_what_the_bridge_renders():
    bridge = Bridge(build_table(PAIRS, {}, [], _split))
    plan = plan_query(bridge, "영상 생성", "ko")
    assert plan.sides["ko"] == "영상 생성" and plan.sides["en"].terms
    assert plan.other_share == 1.0
    # the LLM's translation, when given, is searched as well
    plan = plan_query(bridge, "영상 생성", "ko", ["video synthesis"])
    assert (
        plan.sides["en"].text == "video synthesis" and tokenize_en("synthesis")[0] in plan.sides["en"].terms
    )
    assert plan_query(None, "영상 생성", "ko").other_share is None  # fusion: the Latin share


@pytest.fixture(scope="module")
def settings(tmp_path_factory):
    return make_retrieval_out(tmp_path_factory.mktemp("bridge"))


def test_index_builds_the_bridge_and_a_korean_query_reaches_the_english_side(settings):
    assert list((settings.out_dir / "bridge").glob("table-*.json"))
    searcher = Searcher(settings)
    assert searcher.bridge is not None
    hits = searcher.search("스마트폰 조작 에이전트", k=3)
    assert hits[0].arxiv_id == "2406.01014" and "bm25_en" in hits[0].ranks
    off = settings.model_copy(update={"search": settings.search.model_copy(update={"bridge": False})})
    assert load_bridge(off) is None
    plain = Searcher(off).search("스마트폰 조작 에이전트", k=3)
    assert "bm25_en" not in plain[0].ranks  # without the bridge the English side sees nothing


def test_query_translation_is_cached_and_checked(settings):
    mock = MockLLM()
    llm = make_llm(settings, mock=mock)
    bridge = Searcher(settings).bridge
    first = translate_query(settings, "스마트폰 조작 에이전트", llm, bridge)
    assert first.translation and not any("\uac00" <= c <= "\ud7a3" for c in first.translation)
    calls = mock.stats["by_endpoint"].get("chat", 0)
    again = translate_query(settings, "스마트폰 조작 에이전트", llm, bridge)
    assert again.cached and again.texts == first.texts
    assert mock.stats["by_endpoint"].get("chat", 0) == calls  # from the journal

    class Echo:  # a model that repeats the prompt: its reply is not used
        def complete_json(self, messages, schema, **kw):
            from pipeline.llm.structured import StructuredResult

            text = messages[0]["content"][:200]
            return StructuredResult(schema(translation=text, alternatives=[]), ok=True)

    assert translate_query(settings, "세계 모델 웹 에이전트", Echo(), bridge).texts == []


def test_search_translate_flag_asks_the_llm_once_and_caches(settings):
    import json

    from click.testing import CliRunner

    from pipeline.cli import main

    env = {"DIGEST_LLM__PROVIDER": "mock", "DIGEST_INDEX__EMBEDDING": "endpoint"}
    args = ["search", "세계 모델 웹 에이전트", "--json", "--out", str(settings.out_dir)]
    journal = settings.out_dir / "cache" / "query.jsonl"
    journal.unlink(missing_ok=True)
    res = CliRunner().invoke(main, args, env=env)
    assert res.exit_code == 0, res.output
    assert not journal.exists()  # off by default: no LLM asked
    res = CliRunner().invoke(main, [*args, "--translate"], env=env)
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)[0]["arxiv_id"] == "2410.13232"
    assert journal.read_text(encoding="utf-8").count("\n") == 1


def test_a_small_change_keeps_the_alignment_and_a_large_one_trains_it_again(tmp_path, monkeypatch):
    """A day's few new sections keep the trained alignment (the glossary still applies at
    once); a change past ``search.bridge_retrain_share`` of the sections trains it again."""
    from pipeline.retrieval import bridge_table
    from pipeline.store.lock import output_lock

    settings = make_retrieval_out(tmp_path)
    with output_lock(tmp_path):  # what `digest index` holds while it builds the table
        kept = tmp_path / "bridge" / bridge_table.ALIGNMENT
        assert kept.is_file()
        trained = []
        real = bridge_table.align_words
        monkeypatch.setattr(bridge_table, "align_words", lambda *a: trained.append(1) or real(*a))
        n_pairs = len(bridge_table.corpus_pairs(settings))
        assert n_pairs >= 3

        def share(value: float):
            search = settings.search.model_copy(update={"bridge_retrain_share": value})
            return with_glossary.model_copy(update={"search": search})

        change_translation(tmp_path, 0, "A wholly new rendering of this section about robots.")
        glossary = tmp_path / "glossary.tsv"
        glossary.write_text("로봇 팔\trobot arm\n", encoding="utf-8")
        with_glossary = settings.model_copy(
            update={"translate": settings.translate.model_copy(update={"glossary_file": glossary})}
        )
        table = bridge_table.prepare_bridge(share(3 / n_pairs))
        assert not trained  # 2 of the sections changed (one new, one gone): under the share
        assert ("로봇 팔", "robot arm") in {(k, e) for k, e, _, _ in table.phrases}
        assert len(list((tmp_path / "bridge").glob("table-*.json"))) == 1

        strict = share(2 / n_pairs)
        table = bridge_table.prepare_bridge(strict)
        assert trained == [1]  # 2 of n sections changed: at the share, trained again
        kept_now = json.loads(kept.read_text(encoding="utf-8"))
        assert len(kept_now["pairs"]) == n_pairs and table.sentences == kept_now["sentences"]
        bridge_table.prepare_bridge(strict)
        assert trained == [1]  # nothing changed since: the table is found, nothing trained
