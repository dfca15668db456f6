"""Korean analysis in a child process (``kiwi_process.py``): the same results as here, used
by ``digest index`` when ``index.kiwi_process`` is on; a failed child falls back to Kiwi here."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from pipeline.retrieval import kiwi_process, lexical
from pipeline.stages.index import index_stage
from pipeline.store.layout import OutDir
from tests.retrieval.helpers import make_retrieval_out

TEXTS = [
    "확산 모델을 증류하여 추론 속도를 높인다.",
    "MoE 라우팅의 부하 균형 (load balancing)",
    "",
    "영상 생성 벤치마크",
]


def _here() -> tuple[lexical.Analysis, list[list[str]]]:
    assert kiwi_process.current() is None
    return lexical.analyse_ko_many(TEXTS), [lexical.tokenize_ko(t) for t in TEXTS]


def test_the_child_gives_the_analysis_of_this_process():
    here = _here()
    with kiwi_process.kiwi_in_background(lexical.KIWI_OPTIONS) as child:
        there = lexical.analyse_ko_many(TEXTS), [lexical.tokenize_ko(t) for t in TEXTS]
        assert child.alive  # it answered every request
    assert there == here
    assert kiwi_process.current() is None and not child.alive  # stopped on the way out


def test_a_pipeline_folder_where_digest_runs_does_not_stand_in_for_the_package(tmp_path, monkeypatch):
    (tmp_path / "pipeline").mkdir()
    (tmp_path / "pipeline" / "__init__.py").write_text("raise ImportError('not digest')\n")
    monkeypatch.chdir(tmp_path)
    with kiwi_process.kiwi_in_background(lexical.KIWI_OPTIONS) as child:
        lexical.tokenize_ko(TEXTS[0])
        assert child.alive  # the child imported digest's own modules


def test_a_child_that_cannot_load_kiwi_falls_back_to_kiwi_here(caplog):
    caplog.set_level(logging.WARNING)
    here = _here()
    with kiwi_process.kiwi_in_background({"no_such_option": 1}) as child:
        there = lexical.analyse_ko_many(TEXTS), [lexical.tokenize_ko(t) for t in TEXTS]
        assert not child.alive
    assert there == here
    assert sum("Kiwi's process failed" in r.getMessage() for r in caplog.records) == 1  # said once


def test_a_killed_child_falls_back_to_kiwi_here(caplog):
    caplog.set_level(logging.WARNING)
    here = _here()
    with kiwi_process.kiwi_in_background(lexical.KIWI_OPTIONS) as child:
        first = lexical.tokenize_ko(TEXTS[0])
        child._proc.kill()
        there = lexical.analyse_ko_many(TEXTS), [lexical.tokenize_ko(t) for t in TEXTS]
    assert first == here[1][0] and there == here
    assert any("Kiwi's process failed" in r.getMessage() for r in caplog.records)


def _lexical_state(out: Path) -> tuple[list[str], dict[str, bytes]]:
    bm25 = OutDir(out).bm25_dir
    dirs = sorted(p.name for p in bm25.iterdir() if p.is_dir())
    files = {f"{d}/{p.name}": p.read_bytes() for d in dirs for p in sorted((bm25 / d).iterdir())}
    return dirs, files


def test_index_analyses_korean_in_the_child(tmp_path, monkeypatch):
    """With ``index.kiwi_process`` on, Kiwi is never loaded in the indexing process, and the
    lexical indexes are those built with Kiwi here."""
    (here := tmp_path / "here").mkdir()
    index_stage(make_retrieval_out(here, build_index=False, kiwi_process=False))
    monkeypatch.setattr(lexical, "_kiwi_loaded", lambda: False)
    monkeypatch.setattr(lexical, "get_kiwi", lambda: pytest.fail("Kiwi was loaded in this process"))
    (child := tmp_path / "child").mkdir()
    index_stage(make_retrieval_out(child, build_index=False, kiwi_process=True))
    assert _lexical_state(child) == _lexical_state(here)
    assert kiwi_process.current() is None  # stopped with the stage
