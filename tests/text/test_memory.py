"""ONE translation-memory loader and normalisation.  The index had its own loader that only
trimmed the ends, so a section whose white space differed from the memory's counted as "in
memory" when translating and not when indexing (or evaluating, which re-indexes)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.errors import InputError
from pipeline.records import Entry, Section
from pipeline.text.memory import load_memory, normalize

SECTION = "LoLDU는 파라미터를\n  0.00025%만 사용합니다."


def _tm(path: Path, pairs: list[tuple[str, str]]) -> Path:
    path.write_text("".join(json.dumps({"ko": k, "en": e}) + "\n" for k, e in pairs), encoding="utf-8")
    return path


def test_normalisation_collapses_white_space() -> None:
    assert normalize("  a \n b\t c ") == "a b c" == normalize("a b c")


def test_translate_and_index_agree_on_what_is_in_memory(tmp_path: Path) -> None:
    from pipeline.stages.index.docs import build_docs

    memory = load_memory(_tm(tmp_path / "tm.jsonl", [("LoLDU는   파라미터를 0.00025%만 사용합니다.", "EN")]))
    assert memory.lookup(SECTION) == "EN"  # what translate asks
    entry = Entry(id="1", title="T", source_file="f", source_line=1, sections=[Section(text=SECTION, line=2)])
    (doc,) = build_docs([entry], [], [], memory)  # what index (and eval --memory) asks
    assert doc.sections_translated == 1 and "EN" in doc.english


def test_several_files_later_ones_win(tmp_path: Path) -> None:
    a = _tm(tmp_path / "a.jsonl", [("가", "first"), ("나", "only in a")])
    b = _tm(tmp_path / "b.jsonl", [("가", "second")])
    memory = load_memory([a, b])
    assert memory.lookup("가") == "second" and memory.lookup("나") == "only in a"
    assert len(memory) == 2 and memory.paths == [a, b]


def test_missing_file_and_bad_lines(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(InputError, match="translation memory file not found"):
        load_memory(tmp_path / "nope.jsonl")
    path = tmp_path / "tm.jsonl"
    path.write_text('{"ko": "가", "en": "ok"}\n{broken\n{"ko": "나"}\n', encoding="utf-8")
    assert load_memory(path).pairs == {"가": "ok"}
    assert f"{path}:2" in caplog.text and f"{path}:3" in caplog.text
    assert len(load_memory(None)) == 0


def test_reviewed_glossary_exceptions_are_kept_per_pair(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "tm.jsonl"
    lines = [
        {
            "ko": "엔트로피 정렬 샘플링",
            "en": "entropy-ordered sampling",
            "glossary_exceptions": {"정렬": "here: ordering"},
        },
        {"ko": "정렬", "en": "alignment", "glossary_exceptions": ["not", "an", "object"]},
    ]
    path.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines), encoding="utf-8")
    memory = load_memory(path)
    first = memory.record("엔트로피  정렬 샘플링")
    assert first is not None and first.glossary_exceptions == {"정렬": "here: ordering"}
    assert (first.path, first.line) == (path, 1)
    second = memory.record("정렬")
    assert second is not None and second.en == "alignment" and second.glossary_exceptions == {}
    assert f"{path}:2: ignoring glossary_exceptions" in caplog.text  # the pair itself is kept


def test_the_validator_honours_exceptions_only_when_given() -> None:
    from pipeline.stages.translate.validate import validate

    gl = (("정렬", "Alignment"),)
    ko, en = "엔트로피 정렬 샘플링", "entropy-ordered sampling"
    assert validate(ko, en, gl) == ["glossary terms not used: 정렬 => Alignment"]
    assert validate(ko, en, gl, {"정렬": "here: ordering"}) == []
    assert validate("정렬된 모델", "an aligned model", gl) == []  # inflected forms count
