"""The reviewed English of the sample digests (``seeds/memory.jsonl``) against the project's
own validator: every section of every seed digest has a pair, and every pair has no Hangul,
keeps every number of its source and uses every glossary term that ``digest run seeds/``
binds for it, minus the pair's documented ``glossary_exceptions`` (each one needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.records import Entry
from pipeline.stages.parse import parse_files
from pipeline.stages.translate.validate import validate
from pipeline.text.glossary import Glossary, seed_glossary
from pipeline.text.memory import load_memory
from tests.paths import SEEDS

MEMORY = SEEDS / "memory.jsonl"


@pytest.fixture(scope="module")
def entries() -> list[Entry]:
    return parse_files([SEEDS]).entries


@pytest.fixture(scope="module")
def glossary(entries: list[Entry], tmp_path_factory: pytest.TempPathFactory) -> Glossary:
    """The glossary a fresh ``digest run seeds/`` writes (the translate stage seeds it so)."""
    path = tmp_path_factory.mktemp("glossary") / "glossary.tsv"
    return seed_glossary(path, [s.text for e in entries for s in e.sections]).glossary


def test_one_pair_per_section_in_digest_order(entries: list[Entry]) -> None:
    lines = [json.loads(line) for line in MEMORY.read_text(encoding="utf-8").splitlines()]
    sections = [s.text for e in entries for s in e.sections]
    assert len(sections) == 444
    assert [line["ko"] for line in lines] == sections  # byte-exact, in order
    memory = load_memory([MEMORY])
    assert all(memory.lookup(text) for text in sections)


def test_every_pair_passes_the_validator(entries: list[Entry], glossary: Glossary) -> None:
    memory = load_memory([MEMORY])
    problems = []
    for e in entries:
        for i, s in enumerate(e.sections):
            pair = memory.record(s.text)
            assert pair is not None, f"{e.id}#{i}: no memory pair"
            found = validate(s.text, pair.en, tuple(glossary.matches(s.text)), pair.glossary_exceptions)
            if found:
                problems.append(f"{e.id}#{i}: {'; '.join(found)}")
    assert problems == []


def test_exceptions_are_few_and_each_one_needed(entries: list[Entry], glossary: Glossary) -> None:
    memory = load_memory([MEMORY])
    with_exceptions = [r for r in memory.records.values() if r.glossary_exceptions]
    assert 1 <= len(with_exceptions) <= 3
    for pair in with_exceptions:
        matched = dict(glossary.matches(pair.ko))
        for term, why in pair.glossary_exceptions.items():
            assert term in matched and why.startswith("here:"), (term, why)
            problems = validate(pair.ko, pair.en, ((term, matched[term]),))
            assert problems and term in problems[0]  # without the exception the pair fails


def test_the_compound_number_reads_as_written() -> None:
    """1억 1,000만 is 110 million: the translator no longer has to spell it out in words."""
    pair = next(r for r in load_memory([MEMORY]).records.values() if "1억 1,000만" in r.ko)
    assert "110 million" in pair.en and "one hundred and ten" not in pair.en
    assert validate(pair.ko, pair.en) == []


def test_the_shipped_memory_is_the_default(tmp_path: Path, shipped_memory: None) -> None:
    from pipeline.settings import SEEDS_MEMORY, load_settings

    assert MEMORY.resolve() == SEEDS_MEMORY
    assert load_settings(out_dir=tmp_path).translate.memory_files == [SEEDS_MEMORY]
