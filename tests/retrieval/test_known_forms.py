"""Known word forms: a Korean query analysed from the index's own analyses, Kiwi only as the
fallback (``known_forms.py``, ``lexical.tokenize_ko_query``)."""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from pipeline.retrieval import known_forms as kf
from pipeline.retrieval import lexical
from pipeline.retrieval.known_forms import Analysis, KnownForms, text_forms
from pipeline.retrieval.lexical import analyse_ko_many, analyser_id, tokenize_ko, tokenize_ko_query
from pipeline.retrieval.lexical_tokens import Lexicon
from pipeline.retrieval.searcher import Searcher
from tests.retrieval.helpers import make_retrieval_out

ROOT = Path(__file__).resolve().parents[2]

# made of word forms of the fixture's Korean text, with particles and punctuation
KNOWN = [
    "전문가 혼합(MoE)으로 시각 토큰을",
    "스마트폰 조작을 계획, 결정",
    "웹 에이전트에 세계 모델을",
    "비디오 확산 모델을",
    "(다국어 멀티모달)",
    "MMMB 벤치마크를",
    "언어별 시각 토큰을 만듭니다.",
]
UNSEEN = "확산 모델을 샀습니다"  # "샀습니다" is in no text


@pytest.fixture(scope="module")
def indexed(tmp_path_factory):
    return make_retrieval_out(tmp_path_factory.mktemp("forms"))


@pytest.fixture
def searcher(indexed):
    s = Searcher(indexed)  # registers its lexicon's forms
    yield s
    s.close()


@pytest.fixture
def no_kiwi(monkeypatch):
    def refuse():
        raise AssertionError("Kiwi was loaded")

    monkeypatch.setattr(lexical, "get_kiwi", refuse)


def forms_rows(path: Path) -> list[tuple]:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT analyser, form, tokens, n FROM form_analyses ORDER BY 1, 2, 3").fetchall()


def test_known_forms_give_kiwis_tokens_without_kiwi(searcher, monkeypatch):
    expected = {q: tokenize_ko(q) for q in KNOWN}  # Kiwi's analysis
    monkeypatch.setattr(lexical, "get_kiwi", lambda: pytest.fail("Kiwi was loaded"))
    for q in KNOWN:
        assert tokenize_ko_query(q) == expected[q], q
    assert "moe" in expected[KNOWN[0]] and "mmmb" in expected[KNOWN[5]]  # the Latin words too
    # and the whole query path: retriever, bridge, support check
    hits = searcher.search("스마트폰 조작을 계획, 결정", k=3)
    assert hits and hits[0].arxiv_id == "2406.01014"
    support = searcher.support(
        "웹 에이전트에 세계 모델을", [h.entry_id for h in hits], min_coverage=0.5, combination_gain=0.3
    )
    assert support.entry_id is not None


def test_a_cold_korean_search_does_not_load_kiwi(indexed):
    script = (
        "import runpy, sys\n"
        "sys.argv = ['pipeline', 'search', '비디오 확산 모델을', '--out', sys.argv[1], '--json', '-k', '2']\n"
        "try:\n"
        "    runpy.run_module('pipeline', run_name='__main__', alter_sys=True)\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        "print('KIWI', 'kiwipiepy' in sys.modules)\n"
    )
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DIGEST_LLM__PROVIDER": "mock",
        "DIGEST_INDEX__EMBEDDING": "endpoint",
        "DIGEST_PROGRESS": "off",
    }
    res = subprocess.run(
        [sys.executable, "-c", script, str(indexed.out_dir)],
        cwd=indexed.out_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    assert '"2412.07583"' in res.stdout  # the video diffusion entry
    assert res.stdout.strip().endswith("KIWI False"), res.stdout


def test_an_unseen_form_falls_back_to_kiwi(searcher, monkeypatch):
    calls = []
    real = lexical.get_kiwi
    monkeypatch.setattr(lexical, "get_kiwi", lambda: calls.append(1) or real())
    assert kf.known_forms().morphemes(UNSEEN) is None
    assert tokenize_ko_query(UNSEEN) == tokenize_ko(UNSEEN)
    assert calls  # Kiwi analysed it
    calls.clear()
    assert tokenize_ko_query("multilingual model") == lexical.tokenize_en("multilingual model")
    assert not calls  # no Hangul: no Kiwi


def test_without_registered_forms_kiwi_analyses(indexed, monkeypatch):
    monkeypatch.setattr(kf, "_registered", None)
    assert tokenize_ko_query(KNOWN[0]) == tokenize_ko(KNOWN[0])


def test_the_last_opened_folder_answers(indexed, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(indexed.out_dir, other)
    first = Searcher(indexed)
    assert kf.known_forms().lexicon.path == indexed.out_dir / "bm25" / "lexicon.sqlite"
    second = Searcher(indexed.model_copy(update={"out_dir": other}))
    assert kf.known_forms().lexicon.path == other / "bm25" / "lexicon.sqlite"
    first.close()
    second.close()


# -- the table -------------------------------------------------------------------------------------


def fake_analyser(analyses: dict[str, list[list[str]]], calls: list[int]):
    """An analyser giving each word of a text the content morphemes ``analyses`` lists (one
    a character, from the word's start)."""

    def analyse(texts: list[str]) -> Analysis:
        calls.append(len(texts))
        forms: kf.Forms = Counter()
        tokens = []
        for t in texts:
            words = list(re.finditer(r"\S+", t))
            morphemes = [
                (m.start() + j, 1, f)
                for m, word in zip(words, analyses[t], strict=True)
                for j, f in enumerate(word)
            ]
            tokens.append([f for _, _, f in morphemes])
            forms.update(text_forms(t, morphemes))
        return Analysis(tokens, forms)

    return analyse


APPLE = {  # "사과를" analysed as "사과" (an apple) and split "사" + "과"
    "사과를 먹었다": [["사과"], ["먹"]],
    "사과를 샀다": [["사과"], ["사"]],
    "사과를 깎았다": [["사과"], ["깎"]],
    "사과를 씻었다": [["사과"], ["씻"]],
    "사과를 했다": [["사", "과"], []],
    "사과를 드렸다": [["사", "과"], ["드리"]],
    "사과를 받았다": [["사", "과"], ["받"]],
    "사과를 요구했다": [["사", "과"], ["요구"]],
    "사과를 했어요": [["사", "과"], []],
    "사과를 먹고 사과를 샀다": [["사과"], ["먹"], ["사과"], ["사"]],
}


def apple_lexicon(tmp_path, calls: list[int] | None = None):
    lex = Lexicon(tmp_path / "lexicon.sqlite", create=True)
    analyse = fake_analyser(APPLE, [] if calls is None else calls)
    return lex, lambda texts: lex.analyse(texts, "ko:test", analyse), KnownForms(lex, "ko:test")


def counts(lex: Lexicon, form: str) -> dict:
    return lex.form_analyses("ko:test", [form]).get(form, {})


@pytest.mark.parametrize("together", [True, False])
def test_a_form_split_evenly_does_not_answer(tmp_path, together):
    lex, analyse, reader = apple_lexicon(tmp_path)
    texts = ["사과를 먹었다", "사과를 했다"]
    for batch in [texts] if together else [[t] for t in texts]:
        analyse(batch)
    assert counts(lex, "사과를") == {("사과",): 1, ("사", "과"): 1}
    assert reader.lookup(["사과를", "먹었다", "했다"]) == {"사과를": None, "먹었다": ["먹"], "했다": []}
    assert reader.morphemes("먹었다") == ["먹"]
    assert reader.morphemes("사과를 먹었다") is None  # Kiwi then
    assert reader.lookup(["먹었다"]) and KnownForms(lex, "ko:other").lookup(["먹었다"]) == {}  # per analyser


def test_a_form_answers_with_its_majority_analysis(tmp_path):
    lex, analyse, reader = apple_lexicon(tmp_path)
    analyse(["사과를 먹었다", "사과를 샀다", "사과를 깎았다", "사과를 했다"])
    assert reader.lookup(["사과를"]) == {"사과를": None}  # 3 of 4: short of MIN_SHARE
    analyse(["사과를 씻었다"])
    assert counts(lex, "사과를") == {("사과",): 4, ("사", "과"): 1}
    assert reader.morphemes("사과를 씻었다") == ["사과", "씻"]  # 4 of 5
    assert reader.morphemes("사과를 했다") == ["사과"]  # the form's majority, not this text's


def test_a_later_batch_can_break_or_flip_a_majority(tmp_path):
    lex, analyse, reader = apple_lexicon(tmp_path)
    analyse(["사과를 먹었다"])
    assert reader.morphemes("사과를") == ["사과"]
    analyse(["사과를 했다"])
    assert reader.morphemes("사과를") is None  # 1 vs 1
    analyse(["사과를 드렸다", "사과를 받았다", "사과를 요구했다"])
    assert reader.morphemes("사과를") == ["사", "과"]  # 4 of 5
    analyse(["사과를 먹고 사과를 샀다"])  # two occurrences in one text: both count
    assert counts(lex, "사과를") == {("사과",): 3, ("사", "과"): 4}
    assert reader.morphemes("사과를") is None


def test_counts_accumulate_and_a_cached_text_counts_once(tmp_path):
    calls: list[int] = []
    lex, analyse, reader = apple_lexicon(tmp_path, calls)
    analyse(["사과를 먹었다"])
    assert reader.lookup(["사과를", "샀다"]) == {"사과를": ["사과"]}
    before = forms_rows(lex.path)
    _, _, analysed = analyse(["사과를 먹었다"])
    assert analysed == 0 and calls == [1] and forms_rows(lex.path) == before  # nothing new
    analyse(["사과를 먹었다", "사과를 샀다"])
    assert calls == [1, 1]  # only the new text
    assert counts(lex, "사과를") == {("사과",): 2} and counts(lex, "먹었다") == {("먹",): 1}
    assert reader.lookup(["사과를", "샀다"]) == {"사과를": ["사과"], "샀다": ["사"]}


def test_majority():
    assert kf.majority({("사과",): 4, ("사", "과"): 1}) == ["사과"]
    assert kf.majority({("사과",): 3, ("사", "과"): 1}) is None
    assert kf.majority({(): 1}) == []  # a form with no content morphemes answers with none
    assert kf.majority({None: 4, ("사과",): 1}) is None  # mostly crossed by a token
    assert kf.majority({("사과",): 4, None: 1}) == ["사과"]
    assert kf.majority({}) is None


def test_a_tie_never_answers(monkeypatch):
    monkeypatch.setattr(kf, "MIN_SHARE", 0.5)
    assert kf.majority({("사과",): 2, ("사", "과"): 2}) is None
    assert kf.majority({("사과",): 2, ("사", "과"): 1, ("사과", "를"): 1}) == ["사과"]


def test_an_older_analysers_forms_are_dropped(tmp_path):
    lex = Lexicon(tmp_path / "lexicon.sqlite", create=True)
    analyse = fake_analyser(APPLE, [])
    lex.analyse(["사과를 먹었다"], "ko:old", analyse)
    _, keys, _ = lex.analyse(["사과를 샀다"], "ko:new", analyse)
    lex.keep_only("ko:", keys, "ko:new")
    assert lex.form_analyses("ko:old", ["사과를"]) == {}
    assert KnownForms(lex, "ko:new").lookup(["사과를", "샀다"]) == {"사과를": ["사과"], "샀다": ["사"]}


def test_an_earlier_forms_table_is_dropped(tmp_path):
    path = tmp_path / "lexicon.sqlite"
    with sqlite3.connect(path) as conn:  # as bd7837b wrote it: one analysis a form
        conn.executescript(
            "CREATE TABLE analysers (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);"
            "CREATE TABLE forms (analyser INTEGER NOT NULL, form TEXT NOT NULL, tokens TEXT,"
            " PRIMARY KEY (analyser, form)) WITHOUT ROWID;"
            "INSERT INTO analysers VALUES (1, 'ko:test'); INSERT INTO forms VALUES (1, '사과를', '사과');"
        )
    reader = Lexicon(path)  # a search on it: no counts, Kiwi analyses
    assert KnownForms(reader, "ko:test").lookup(["사과를"]) == {}
    reader.close()
    lex, analyse, known = apple_lexicon(tmp_path)
    analyse(["사과를 했다"])
    with sqlite3.connect(path) as conn:
        tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "forms" not in tables and "form_analyses" in tables
    assert known.lookup(["사과를"]) == {"사과를": ["사", "과"]}


def test_kiwis_forms_are_recorded_as_texts_are_analysed(tmp_path, monkeypatch):
    lex = Lexicon(tmp_path / "lexicon.sqlite", create=True)
    analyser = analyser_id("ko")
    text = "(새로운 확산 모델을), 빠르게 학습합니다."
    lex.analyse([text], analyser, analyse_ko_many)
    known = KnownForms(lex, analyser).lookup(["새로운", "확산", "모델을", "빠르게", "학습합니다"])
    assert known["모델을"] == ["모델"] and known["확산"] == ["확산"] and len(known) == 5
    monkeypatch.setattr(kf, "_registered", KnownForms(lex, analyser))
    query = "확산 모델을 학습합니다"
    assert tokenize_ko_query(query) == tokenize_ko(query)
    monkeypatch.setattr(lexical, "get_kiwi", lambda: pytest.fail("Kiwi was loaded"))
    assert tokenize_ko_query(query) == [*known["확산"], *known["모델을"], *known["학습합니다"]]


def test_the_index_records_the_fixtures_forms_once(indexed):
    from pipeline.stages.index import index_stage

    path = indexed.out_dir / "bm25" / "lexicon.sqlite"
    rows = forms_rows(path)
    assert rows and all(r[0] == rows[0][0] for r in rows)  # one analyser
    assert ("모델을", "모델") in {(form, tokens) for _, form, tokens, _ in rows}
    index_stage(indexed)  # nothing new to analyse
    assert forms_rows(path) == rows


def test_text_forms():
    text = "(모델을), 모델을 A 확산"
    morphemes = [(1, 2, "모델"), (3, 1, None), (4, 2, None), (7, 2, "모델"), (9, 1, None), (11, 1, None)]
    assert text_forms(text, [*morphemes, (13, 2, "확산")]) == {
        ("모델을", ("모델",)): 2,
        ("확산", ("확산",)): 1,
    }
    # a token reaching across a space: the occurrences it touches have no analysis of their own
    assert text_forms("확산 모델", [(0, 5, "확산 모델")]) == {("확산", None): 1, ("모델", None): 1}
    assert kf.decode(kf.encode(None)) is None and kf.decode(kf.encode(())) == ()
    assert kf.decode(kf.encode(("사", "과"))) == ("사", "과")
    # a token starting in whitespace: no forms from the text
    assert text_forms("확산  모델", [(0, 2, "확산"), (2, 1, None), (4, 2, "모델")]) == {}
    assert kf.query_forms("(다국어 멀티모달), MoE 12,000개") == ["다국어", "멀티모달", "12,000개"]
