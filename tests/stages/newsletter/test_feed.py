"""The RSS 2.0 feed: well-formed, required elements, stable GUIDs, RFC-822 dates, escaping."""

from __future__ import annotations

import re
import shutil
import xml.etree.ElementTree as ET
from datetime import date
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest

from pipeline.settings import load_settings
from pipeline.stages.newsletter.stage import newsletter_stage

EVIL = '<script>alert(1)</script> Tom & "Jerry" *bold* [link](x) _under_ #1 `code`'
RFC822 = re.compile(
    r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} "
    r"\d{2}:\d{2}:\d{2} [+-]\d{4}$"
)
DC = "{http://purl.org/dc/elements/1.1/}"
ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture
def out(tmp_path: Path, fixtures: Path) -> Path:
    out = tmp_path / "out"
    out.mkdir()
    for name in ("entries", "translations", "metadata"):
        shutil.copy(fixtures / f"newsletter_{name}.jsonl", out / f"{name}.jsonl")
    return out


def write_feed(out: Path, **kw) -> ET.Element:
    settings = load_settings(
        out_dir=out, progress="off", newsletter={"site_url": "https://news.example.org/ai/"}
    )
    report = newsletter_stage(settings, formats=["rss"], intro=False, **kw)
    (path,) = report.paths
    assert path.suffix == ".xml"
    return ET.parse(path).getroot()


def test_feed_is_valid_rss(out: Path) -> None:
    root = write_feed(out, date=date(2024, 10, 21))
    assert root.tag == "rss" and root.get("version") == "2.0"
    (channel,) = root.findall("channel")
    for tag in ("title", "link", "description"):  # required by RSS 2.0
        assert (channel.findtext(tag) or "").strip(), tag
    assert channel.findtext("link") == "https://news.example.org/ai/"
    assert channel.findtext("language") == "en"
    self_link = channel.find(f"{ATOM}link")
    assert self_link is not None and self_link.get("rel") == "self"
    assert self_link.get("href") == "https://news.example.org/ai/digest-2024-10-21.xml"
    for tag in ("pubDate", "lastBuildDate"):
        value = channel.findtext(tag)
        assert value and RFC822.match(value)
        assert parsedate_to_datetime(value).date() == date(2024, 10, 21)

    items = channel.findall("item")
    assert len(items) == 6
    for item in items:
        assert (item.findtext("title") or "").strip()
        guid = item.find("guid")
        assert guid is not None and guid.get("isPermaLink") == "false"
        assert re.fullmatch(r"arxiv:\d{4}\.\d{4,5}", guid.text or "")
        assert item.findtext("link") == "https://arxiv.org/abs/" + guid.text.removeprefix("arxiv:")
        pub = item.findtext("pubDate") or ""
        assert RFC822.match(pub), pub
        assert parsedate_to_datetime(pub).tzinfo is not None
        assert item.findtext("category")
    # votes desc, then title
    assert [i.findtext("guid") for i in items][:3] == [
        "arxiv:2410.13720",
        "arxiv:2410.13754",
        "arxiv:2410.15735",
    ]


def test_guids_unique_and_stable_across_runs_and_ranges(out: Path) -> None:
    day = [i.findtext("guid") for i in write_feed(out, date=date(2024, 10, 21)).iter("item")]
    again = [i.findtext("guid") for i in write_feed(out, date=date(2024, 10, 21)).iter("item")]
    rng = [i.findtext("guid") for i in write_feed(out, since=date(2024, 10, 21)).iter("item")]
    assert len(day) == len(set(day)) == 6
    assert day == again
    assert len(rng) == len(set(rng)) == 7
    assert set(day) <= set(rng)  # a paper keeps its GUID in every feed it is in


def test_feed_escaping(out: Path) -> None:
    root = write_feed(out, date=date(2024, 10, 21))
    item = next(i for i in root.iter("item") if i.findtext("guid") == "arxiv:2410.99999")
    assert item.findtext("title") == EVIL  # parsed back to the exact text
    assert item.findtext(f"{DC}creator") == "Ada <b>Lovelace</b>, Alan Turing"
    # the description is HTML (escaped once more in the XML); the data inside it is still text
    desc = item.findtext("description") or ""

    class Text(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.tags: list[str] = []
            self.data: list[str] = []

        def handle_starttag(self, tag, attrs):
            self.tags.append(tag)

        def handle_data(self, data):
            self.data.append(data)

    parser = Text()
    parser.feed(desc)
    assert set(parser.tags) <= {"p", "ul", "li", "a", "em"}
    text = "".join(parser.data)
    assert 'Shows that <b>bold</b> & "quoted" *text* stays [text](y).' in text
    assert "attack <success>: 99% (a & b)" in text
    assert "javascript:" not in desc


def test_untranslated_paper_in_feed_is_marked(out: Path) -> None:
    root = write_feed(out, date=date(2024, 10, 21))
    item = next(i for i in root.iter("item") if i.findtext("guid") == "arxiv:2410.10210")
    desc = item.findtext("description") or ""
    assert "Korean original" in desc and "Translation pending" in desc and "Metadata pending" in desc
    assert item.findtext("category") == "Uncategorised"
