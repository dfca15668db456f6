"""Translate planning is memoised by section text: a re-run neither re-splits, re-counts nor
re-mines unchanged sections, and plans exactly what a planning without the memo plans."""

from __future__ import annotations

import pytest

from pipeline.prompts import load_prompt
from pipeline.settings import load_settings
from pipeline.stages.parse import parse_stage
from pipeline.stages.translate import memo as memo_mod
from pipeline.stages.translate.plan import plan_sections, plan_work
from pipeline.store.layout import OutDir
from pipeline.store.lock import output_lock
from pipeline.text.glossary import load_glossary
from pipeline.text.memory import load_memory


@pytest.fixture
def settings(tmp_path, fixtures):
    s = load_settings(out_dir=tmp_path / "out", progress="off", llm={"provider": "mock"})
    parse_stage(s, [fixtures / "translate_digest.md"])
    with output_lock(s.out_dir):  # planning writes the glossary and the plan memo, as a writer
        yield s


def _keys(work) -> list[tuple[str, int, list[tuple[str, tuple, int]]]]:
    return [(p.entry.id, p.index, [(s.key, s.glossary, s.tokens) for s, _ in p.segments]) for p in work.plans]


def _unmemoised(settings) -> list:
    """The plan computed from scratch, without any memo."""
    glossary = load_glossary(settings.out_dir / "glossary.tsv")
    entries = OutDir(settings.out_dir).load_entries()
    prompt = load_prompt(settings, settings.translate.prompt)
    plans = plan_sections(entries, settings, prompt, glossary, load_memory(settings.translate.memory_files))
    return [(p.entry.id, p.index, [(s.key, s.glossary, s.tokens) for s, _ in p.segments]) for p in plans]


def test_a_rerun_plans_unchanged_sections_from_the_memo(settings, monkeypatch):
    first = plan_work(settings, write_glossary=True)
    assert any(p.segments for p in first.plans)

    def boom(*a, **k):
        raise AssertionError("recomputed an unchanged section")

    monkeypatch.setattr(memo_mod, "split_text", boom)
    monkeypatch.setattr(memo_mod, "count_tokens", boom)
    monkeypatch.setattr(memo_mod, "mine_term_pairs", boom)
    again = plan_work(settings, write_glossary=True)
    assert _keys(again) == _keys(first)
    assert sorted(again.todo) == sorted(first.todo)


def test_a_glossary_edit_rematches_the_sections_it_touches(settings):
    first = plan_work(settings, write_glossary=True)
    assert _keys(first) == _unmemoised(settings)
    # a term of one section gets a glossary entry: its segments' matches and keys change
    text = next(s.segments[0][0].text for s in first.plans if s.segments)
    word = next(w for w in text.split() if len(w) >= 2 and not w.isascii())
    path = settings.out_dir / "glossary.tsv"
    path.write_text(path.read_text(encoding="utf-8") + f"{word}\tTESTTERM\n", encoding="utf-8")
    again = plan_work(settings, write_glossary=True)
    assert _keys(again) == _unmemoised(settings)
    assert _keys(again) != _keys(first)
    assert any(("TESTTERM" in en) for p in again.plans for s, _ in p.segments for _, en in s.glossary)
