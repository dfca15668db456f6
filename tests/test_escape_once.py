"""Data is escaped once, where it is rendered (issue 17).

A ``<script>`` title went through enrich as ``&lt;script>`` (escaped for the prompt, never
unescaped from the reply), so TL;DRs and key results showed a literal ``&lt;script>`` in
HTML, RSS and Markdown.  Now the records hold the text as written and each format escapes
it once; a literal ``&lt;`` in a digest stays ``&lt;``."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli import main

TITLE = "<script>alert(1)</script> Fast & Small <b>Models</b>"
DIGEST = f"""## Daily Papers (2025-04-01)

### [{TITLE}](https://arxiv.org/abs/2504.00001)

Vote: 5

- ***What's New***: <script>alert(2)</script> 모델은 정확도 12.5%를 달성합니다. R&D 비용 &lt; 5%.
- ***Performance Highlights***: <b>7B</b> 모델이 <i>GPT-4</i>를 능가합니다.
"""
ENV = {"DIGEST_PROGRESS": "off", "DIGEST_INDEX__EMBEDDING": "endpoint"}


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    return []


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("escape")
    (d / "x.md").write_text(DIGEST, encoding="utf-8")
    result = CliRunner().invoke(
        main, ["run", "--llm", "mock", str(d / "x.md"), "--out", str(d / "out")], env=ENV
    )
    assert result.exit_code == 0, result.output
    return d / "out"


def test_records_hold_the_text_as_written(out: Path) -> None:
    meta = json.loads((out / "metadata.jsonl").read_text(encoding="utf-8"))
    assert meta["tldr"] and "<script>alert(2)</script>" in meta["tldr"]  # from the English, as written
    llm_strings = _strings(
        {k: meta[k] for k in ("tldr", "key_results", "metrics", "keywords", "methods", "tasks")}
    )
    assert not [s for s in llm_strings if "&lt;script" in s or "&amp;" in s], llm_strings
    assert any("<script>alert(2)</script>" in s for s in _strings(meta["key_results"]))
    translations = (out / "translations.jsonl").read_text(encoding="utf-8")
    assert "<script>alert(2)</script>" in translations and "&lt;script" not in translations
    assert "R&D" in translations and "&lt; 5%" in translations  # the digest's own "&lt;" kept as written


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):  # noqa: ANN001
        self.tags.append(tag)

    def handle_data(self, data):  # noqa: ANN001
        self.text.append(data)


def _shown(html: str) -> tuple[list[str], str]:
    """The tags of an HTML text and what a reader sees of it."""
    parser = _Text()
    parser.feed(html)
    return parser.tags, "".join(parser.text)


def test_html_shows_the_title_once_escaped(out: Path) -> None:
    html = next((out / "newsletter").glob("*.html")).read_text(encoding="utf-8")
    tags, shown = _shown(html)
    assert "script" not in tags
    assert TITLE in shown  # the reader sees the text as written...
    assert "&lt;script" not in shown and "&amp;lt;" not in html and "&amp;amp;" not in html  # ...escaped once


def test_markdown_shows_the_title_once_escaped(out: Path) -> None:
    md = next((out / "newsletter").glob("*.md")).read_text(encoding="utf-8")
    assert "\\<script\\>alert(1)\\</script\\>" in md
    assert "<script>" not in md and "&lt;script" not in md


def test_rss_shows_the_title_once_escaped(out: Path) -> None:
    xml = next((out / "newsletter").glob("*.xml")).read_text(encoding="utf-8")
    root = ET.fromstring(xml)
    title = [el.text or "" for el in root.iter("title")]
    assert any(TITLE in t for t in title)  # a plain-text element: the text as written
    for el in root.iter("description"):  # an HTML fragment: what a feed reader shows of it
        tags, shown = _shown(el.text or "")
        assert "script" not in tags and "&lt;script" not in shown
    assert any("<script>alert(2)</script>" in _shown(el.text or "")[1] for el in root.iter("description"))


def test_ask_answers_with_the_text_as_written(out: Path) -> None:
    result = CliRunner().invoke(
        main,
        [
            "ask",
            "--json",
            "--llm",
            "mock",
            "Which Fast Small Models reach 12.5% accuracy?",
            "--out",
            str(out),
        ],
        env=ENV,
    )
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output)
    assert "&lt;" not in answer["answer"]
