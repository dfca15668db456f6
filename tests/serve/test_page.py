"""The web page at ``/``: search and ask forms, results and answers escaped (a ``<script>``
title stays text), nothing loaded from elsewhere; rendered by headless Chromium."""

from __future__ import annotations

import shutil
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote

import pytest

from pipeline.llm import make_llm
from pipeline.llm.mock import MockLLM
from pipeline.settings import load_settings
from pipeline.stages.index import index_stage
from pipeline.stages.parse import parse_stage
from tests.paths import FIXTURES
from tests.serve.helpers import call, running
from tests.stages.newsletter.test_chromium import CHROMIUM, chromium

EVIL = '<script>alert(1)</script> Parrot & "Friends" <img src=x onerror=alert(2)>'


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    out = tmp_path_factory.mktemp("serve-page")
    digest = (FIXTURES / "retrieval_digest.md").read_text(encoding="utf-8")
    digest = digest.replace("Parrot: Multilingual Visual Instruction Tuning", EVIL.replace("[", "("))
    (out / "digest.md").write_text(digest, encoding="utf-8")
    shutil.copy(FIXTURES / "retrieval_translations.jsonl", out / "translations.jsonl")
    shutil.copy(FIXTURES / "retrieval_metadata.jsonl", out / "metadata.jsonl")
    settings = load_settings(
        out_dir=out,
        cache_dir=out / "cache",
        progress="off",
        llm={"provider": "mock"},
        index={"embedding": "endpoint"},
    )
    parse_stage(settings, [out / "digest.md"])
    index_stage(settings)
    with running(settings, llm=make_llm(settings, mock=MockLLM())) as srv:
        yield srv


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[dict[str, str | None]] = []
        self.titles: list[str] = []
        self.text: list[str] = []
        self._title: str | None = None
        self._depth = 0

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs.append(dict(attrs))
        if tag == "h3":
            self._title = ""

    def handle_endtag(self, tag):
        if tag == "h3" and self._title is not None:
            self.titles.append(self._title)
            self._title = None

    def handle_data(self, data):
        self.text.append(data)
        if self._title is not None:
            self._title += data


def parse(html: str) -> Page:
    page = Page()
    page.feed(html)
    return page


def test_empty_page_has_both_forms_and_loads_nothing_else(server):
    r = call(server.url + "/")
    assert r.status == 200 and r.headers["Content-Type"].startswith("text/html")
    assert "default-src 'none'" in r.headers["Content-Security-Policy"]
    page = parse(r.text)
    assert "script" not in page.tags and "link" not in page.tags and "img" not in page.tags
    assert {a.get("action") for a in page.attrs if a.get("action")} == {"/", "/ask"}
    assert "Noto Sans CJK KR" in r.text and "Apple SD Gothic Neo" in r.text  # Korean never shows as boxes


def test_search_results_are_escaped(server):
    r = call(server.url + "/?q=" + quote("multilingual visual instruction"))
    assert r.status == 200
    page = parse(r.text)
    assert EVIL.replace("[", "(") in page.titles  # literal text
    assert "script" not in page.tags and "img" not in page.tags
    assert "2024-06-06" in "".join(page.text) and "votes" in "".join(page.text)
    assert any(a.get("href") == "https://arxiv.org/abs/2406.02539" for a in page.attrs)
    assert "TL;DR" in r.text or "match" in r.text


def test_bad_search_parameter_shows_an_error(server):
    r = call(server.url + "/?q=x&k=0")
    assert r.status == 400 and "k: must be 1..100" in r.text


def test_ask_form_shows_the_answer_with_citations(server):
    body = ("question=" + quote("What is the size of the MMMB benchmark from Parrot, in questions?")).encode()
    r = call(server.url + "/ask", data=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status == 200
    page = parse(r.text)
    text = "".join(page.text)
    assert "12,000" in text and "[2406.02539]" in text
    assert any(a.get("href") == "https://arxiv.org/abs/2406.02539" for a in page.attrs)
    assert "script" not in page.tags and "img" not in page.tags
    empty = call(
        server.url + "/ask", data=b"question=", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert empty.status == 400 and "Type a question" in empty.text


@pytest.mark.chromium
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium: apt-get install -y chromium")
def test_chromium_submits_a_query_and_shows_results(server, tmp_path: Path):
    """The search form is a GET form: submitting it loads /?q=...; Chromium renders the result."""
    for query, expected in (
        ("multilingual visual instruction", EVIL.replace("[", "(")),
        ("스마트폰 조작 에이전트", "Mobile-Agent-v2: Mobile Device Operation Assistant"),
    ):
        dom = chromium(tmp_path, "--dump-dom", server.url + "/?q=" + quote(query)).stdout
        page = parse(dom)
        assert expected in page.titles
        assert "script" not in page.tags and "img" not in page.tags
        search_box = next(a for a in page.attrs if a.get("name") == "q")
        assert search_box.get("value") == query
