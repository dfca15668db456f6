"""The one check of model-written text: citation forms, sentences, prompt echo, numbers."""

from __future__ import annotations

from pipeline.text.generated import (
    check_generated,
    cited_ids,
    join_sentences,
    prompt_echo,
    source_values,
    split_sentences,
    unsupported_numbers,
)

PROMPT = "## Write\n\nSay what stands out: the main themes and one to three notable papers.\n"


def test_every_citation_form_is_read():
    text = "A (2406.02539). B [arXiv:2406.01014]. C [2410.13232v2]. D [2406.02539, 2412.07583]. E (see note)."
    assert cited_ids(text) == ["2406.02539", "2406.01014", "2410.13232", "2412.07583"]


def test_sentences_rebuild_the_text():
    text = "First claim [2406.02539]. Second one (2406.01014).\n\nThird!"
    parts = split_sentences(text)
    assert len(parts) == 3 and join_sentences(parts) == text


def test_prompt_echo_is_caught_and_ordinary_text_is_not():
    assert prompt_echo("## Write – say what stands out", PROMPT)
    assert prompt_echo("Intro: say what stands out: the main themes and one paper.", PROMPT)
    assert prompt_echo("<source id='x'>leaked</source>", None)
    assert not prompt_echo("Video models stand out today, with three notable papers.", PROMPT)


def test_numbers_with_korean_units_percent_and_scales():
    values = source_values(["1.2만 개의 질문, 3억 원, 정확도 45% 향상, 2배 빠름"], ["a 7B model"])
    assert unsupported_numbers("12,000 questions, 300 million won, 45% and 2x; a 7B model.", values) == []
    assert unsupported_numbers("It has 13,000 questions and gains 46%.", values) == ["13,000", "46%"]
    assert unsupported_numbers("GPT-4 and Qwen-2 are names, not numbers.", values) == []


def test_check_generated_lists_every_problem():
    values = source_values([], ["Movie Gen has 30 billion parameters."])
    problems = check_generated(
        "Movie Gen (2410.99999) has 40 billion parameters, 영화.",
        prompt=PROMPT,
        source_numbers_=values,
        allowed_citations=["2410.13720"],
    )
    assert problems == ["hangul_in_english", "unknown_citation:2410.99999", "number_not_in_sources:40"]
    assert check_generated("It has 40 billion parameters.", source_numbers_=values) == [
        "number_not_in_sources:40 billion"
    ]
    assert check_generated("Movie Gen has 30 billion parameters.", source_numbers_=values) == []
    assert check_generated("  ") == ["empty"]
