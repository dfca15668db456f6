"""The tolerant JSON extractor: what small models and unenforcing servers wrap JSON in."""

from __future__ import annotations

import pytest

from pipeline.llm.extract import extract_json, strip_trailing_commas


@pytest.mark.parametrize(
    ("reply", "value"),
    [
        ('{"a": 1}', {"a": 1}),
        ('```json\n{"a": 1}\n```', {"a": 1}),
        ('```\n{"a": [1, 2]}\n```', {"a": [1, 2]}),
        ('Here you go:\n```json\n{"a": 1}\n```\nAnything else?', {"a": 1}),
        ('Sure! {"title": "x", "tags": ["a"]} Hope this helps.', {"title": "x", "tags": ["a"]}),
        ('{"a": [1, 2,], "b": {"c": 3,},}', {"a": [1, 2], "b": {"c": 3}}),
        (
            "{'title': 'the model\\'s view', 'tags': ['a', 'b',]}",
            {"title": "the model's view", "tags": ["a", "b"]},
        ),
        ('It\'s here: {"a": "it\'s {not} a brace, nor ] this"}', {"a": "it's {not} a brace, nor ] this"}),
        ('{"a": "a comma,}"}', {"a": "a comma,}"}),
        ('{"broken": } then {"good": true}', {"good": True}),
        ("[1, 2]", [1, 2]),
    ],
)
def test_json_is_found_and_repaired(reply: str, value: object) -> None:
    assert extract_json(reply) == (value, "")


@pytest.mark.parametrize(
    ("reply", "why"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("I cannot produce JSON for this.", "not valid JSON"),
        ('{"title": "Small', "not closed: cut off"),  # never completed by guessing
        ("{'a', 'b'}", "not valid JSON"),  # a Python set is not JSON data
        ('{"a": True}', "not valid JSON"),  # Python booleans only inside a single-quoted literal
    ],
)
def test_what_cannot_be_json_stays_invalid(reply: str, why: str) -> None:
    value, err = extract_json(reply)
    assert value is None and why in err


def test_trailing_commas_inside_strings_are_kept() -> None:
    assert strip_trailing_commas('{"a": "x,]", "b": [1,],}') == '{"a": "x,]", "b": [1]}'
