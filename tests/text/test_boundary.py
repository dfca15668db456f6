"""A glossary term matches only as a word of its own (``pipeline/text/boundary.py``)."""

from __future__ import annotations

import pytest

from pipeline.text.boundary import count_term, find_term, has_term
from pipeline.text.glossary import parse_glossary


@pytest.mark.parametrize(
    ("text", "term"),
    [
        ("적응 방법", "적응"),
        ("적응을 통해", "적응"),  # particles
        ("적응에서 얻은", "적응"),
        ("적응과 일반화", "적응"),
        ("적응도 빠르다", "적응"),
        ("적응만 한다", "적응"),
        ("적응하는 모델", "적응"),  # verbs with 하다 / 되다
        ("적응합니다", "적응"),
        ("정렬된 모델", "정렬"),
        ("정렬됩니다", "정렬"),
        ("정렬이다", "정렬"),
        ("모델들은", "모델"),  # plural
        ("(속성)", "속성"),
        ("속성, 값", "속성"),
        ("LLM 정렬", "정렬"),
        ("3D가우시안", "가우시안"),  # after Latin / digits: a compound's parts still count
        ("스파스  주의를", "스파스 주의"),  # any white space inside a term
        ("(AI 탐지기)", "AI 탐지기"),
    ],
)
def test_matches_a_word_of_its_own(text: str, term: str) -> None:
    assert has_term(text, term) and count_term(text, term) == 1


@pytest.mark.parametrize(
    ("text", "term"),
    [
        ("연속성", "속성"),  # inside a word: "continuity" holds no "attribute"
        ("블록-스파스 주의", "스파스 주의"),  # inside a hyphenated compound
        ("시각-언어 모델", "언어 모델"),
        ("적응형 추론", "적응"),  # derivational suffixes make other words: -type ("adaptive")
        ("적응성", "적응"),  # -ness ("adaptability")
        ("적응기", "적응"),  # -or ("adaptor")
        ("시각적", "시각"),  # -ic
        ("정규화", "정규"),  # -ization
        ("앙상블링", "앙상블"),
        ("XAI 탐지기", "AI 탐지기"),  # a Latin term must start a Latin word too
    ],
)
def test_no_match_inside_another_word(text: str, term: str) -> None:
    assert not has_term(text, term) and find_term(text, term) == []


def test_spans_in_order() -> None:
    text = "적응을 위한 적응형 적응"
    assert find_term(text, "적응") == [(0, 2), (11, 13)]


def test_glossary_matches_use_the_boundary_rule() -> None:
    g = parse_glossary("속성\tattribute\n적응\tAdaptation\n스파스 주의\tsparse attention\n")
    assert g.matches("모션 연속성과 적응형 추론, 블록-스파스 주의") == []
    assert g.matches("속성 바인딩과 적응을 위한 스파스 주의") == [
        ("속성", "attribute"),
        ("스파스 주의", "sparse attention"),
        ("적응", "Adaptation"),
    ]
