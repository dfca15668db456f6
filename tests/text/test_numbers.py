import pytest

from pipeline.text.numbers import (
    claimed_numbers,
    extract_numbers,
    missing_numbers,
    supported_numbers,
    value_in_source,
)


def test_missing_numbers_normalises():
    src = "약 3.74%의 1,000개 샘플, 730만 개, 55만8000장, 2번째 단계, 2배 빠름, LLaMA2-7B"
    good = "about 3.74% of 1000 samples, 7.3 million, 558,000 images, second stage, twice as fast, LLaMA2-7B"
    assert missing_numbers(src, good) == []
    bad = "about 3.7% of 100 samples"
    missing = missing_numbers(src, bad)
    assert {"3.74", "1,000", "730만", "55만8000"} <= set(missing)  # named with their units
    assert "2" in missing  # "2배" is neither "2" nor "twice" here
    assert "3.74" in missing_numbers("3.74%", "3.7%")


def test_numbers_inside_urls_are_no_numbers():
    src = "코드는 https://github.com/org/repo2024에서 공개, 정확도 81%"
    assert missing_numbers(src, "accuracy 81%, code released") == []


def test_value_in_source_normalises_numbers() -> None:
    korean = "공공 표 1,000개, 정확도 75.7%, 3.8억 파라미터, 처리량 2배"
    nums = supported_numbers([korean])
    for ok in ("1000", "1,000", "75.7", "75.70%", "380M", "2x", "3.8억"):
        assert value_in_source(ok, nums, korean), ok
    for bad in ("81.2%", "1,001", "76%", "4x"):
        assert not value_in_source(bad, nums, korean), bad
    # a value without digits must be written in the source
    assert value_in_source("state of the art", set(), "reaches State of the Art results")
    assert not value_in_source("best", set(), "reaches strong results")
    # numbers of the English translation count too
    assert value_in_source("7.3M", supported_numbers([], ["a corpus of 7.3 million pairs"]), "")


def test_claimed_numbers_skip_names() -> None:
    assert claimed_numbers("GPT-4 reaches 75.7% on 1,000 questions, Qwen-2 too") == [
        ("75.7%", 75.7),
        ("1,000", 1000.0),
    ]


def test_number_mentions_blank_urls_and_dates() -> None:
    text = "정확도 81% (https://x.org/v2024/3), 2024-06-06 기준"
    assert [(n.value, n.kind) for n in extract_numbers(text)] == [("81%", "percent")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("LLaMA2-7B 모델과 GPT-4를 비교", [("7B", "size")]),
        ("처리량이 1.5x 빨라지고 비용은 2배 줄었다", [("1.5x", "multiplier"), ("2배", "multiplier")]),
        ("질문 12,000개와 5~10% 향상", [("12,000", "number"), ("5~10%", "percent")]),
        ("3D 생성과 Qwen2.5 모델, 2024-06-06 기준", []),
        ("정확도가 4.2%p 올랐다", [("4.2%p", "percent")]),
    ],
)
def test_number_mentions(text: str, expected: list) -> None:
    assert [(n.value, n.kind) for n in extract_numbers(text)] == expected


# -- Korean compound numbers: one quantity, units composed ---------------------------------

from pipeline.text.numbers import korean_quantities, parse_quantity  # noqa: E402


@pytest.mark.parametrize(
    ("korean", "value"),
    [
        ("1억 1,000만 건", 110_000_000),
        ("1억 2천만 개", 120_000_000),
        ("1.2만 개", 12_000),
        ("3억 파라미터", 300_000_000),
        ("25억 달러", 2_500_000_000),
        ("천 개의 질문", 1_000),
        ("천만 명", 10_000_000),
        ("6백만 개", 6_000_000),
        ("2천만", 20_000_000),
        ("55만8000장", 558_000),
        ("730만 개", 7_300_000),
        ("2조 토큰", 2_000_000_000_000),
        ("3.8억", 380_000_000),
        ("정확도 75.7%", 75.7),
        ("10배 빠름", 10),
    ],
)
def test_korean_quantities_compose_units(korean: str, value: float) -> None:
    (q,) = korean_quantities(korean)
    assert q.value == pytest.approx(value)
    assert parse_quantity(q.written) == pytest.approx(value)


@pytest.mark.parametrize(
    "text",
    ["수천 개의 언어", "백본 모델", "천천히 학습", "2번째 단계", "1위를 기록", "텍스트만 사용", "수십 만 개"],
)
def test_words_that_are_no_quantities(text: str) -> None:
    assert korean_quantities(text) == []


@pytest.mark.parametrize(
    ("korean", "english"),
    [
        ("1억 1,000만 건 이상", "more than 110 million"),
        ("1억 1,000만 건", "110,000,000 calculations"),
        ("1억 1,000만 건", "0.11 billion"),
        ("25억 개", "2.5B"),
        ("25억 개", "2.5 billion"),
        ("1.2만 개", "12K"),
        ("1.2만 개", "12,000"),
        ("12억 개", "1.2 billion"),
        ("3억 개", "300 million"),
        ("1억 2천만 개", "120 million"),
        ("천 개", "1,000 items"),
        ("10배 향상", "10x"),
        ("10배 향상", "10 times"),
        ("2배 빠름", "twice as fast"),
        ("정확도 75.7%", "75.7 percent"),
    ],
)
def test_english_renderings_keep_the_number(korean: str, english: str) -> None:
    assert missing_numbers(korean, english) == []


@pytest.mark.parametrize(
    ("korean", "english", "missing"),
    [
        # the compound is ONE number: its parts summed wrongly (100,001,000) or alone do not pass
        ("1억 1,000만 건", "100,001,000 calculations", ["1억 1,000만"]),
        ("1억 1,000만 건", "100 million", ["1억 1,000만"]),
        ("1억 1,000만 건", "1,000 calculations", ["1억 1,000만"]),
        ("1억 2천만 개", "102 million", ["1억 2천만"]),
        ("1.2만 개", "1,200", ["1.2만"]),
        ("1억 1,000만 건", "1 in 1,000", ["1억 1,000만"]),
        ("10배 향상", "a 100x gain", ["10"]),
    ],
)
def test_wrong_renderings_are_missing(korean: str, english: str, missing: list[str]) -> None:
    assert missing_numbers(korean, english) == missing


@pytest.mark.parametrize(
    ("written", "value"),
    [
        ("110 million", 110_000_000),
        ("2.5B", 2_500_000_000),
        ("12K", 12_000),
        ("1.2 billion", 1_200_000_000),
        ("75.7%", 75.7),
        ("1억 1,000만", 110_000_000),
        ("no number", None),
        ("3 and 4", None),
    ],
)
def test_parse_quantity(written: str, value: float | None) -> None:
    assert parse_quantity(written) == (pytest.approx(value) if value is not None else None)


def test_quantity_units_and_spans() -> None:
    text = "정확도 75.7%, 4.2%p 상승, 10배 빠르고 1억 1,000만 건"
    found = [(q.written, q.unit, text[q.start : q.end]) for q in korean_quantities(text)]
    assert found == [
        ("75.7", "%", "75.7"),
        ("4.2", "%p", "4.2"),
        ("10", "x", "10"),
        ("1억 1,000만", "", "1억 1,000만"),
    ]


def test_compound_number_is_one_metadata_mention() -> None:
    assert [(n.value, n.kind) for n in extract_numbers("DFT 연산 1억 1,000만 건")] == [
        ("1억 1,000만", "size")
    ]
