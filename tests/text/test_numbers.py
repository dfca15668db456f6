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
