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


def test_cumulative_feed_beside_the_issue_feeds(out: Path) -> None:
    settings = load_settings(
        out_dir=out,
        progress="off",
        newsletter={"site_url": "https://news.example.org/ai/", "feed_items": 4},
    )
    report = newsletter_stage(settings, date=date(2024, 10, 21), formats=["rss"], intro=False)
    assert [p.name for p in report.paths] == ["digest-2024-10-21.xml"]
    assert report.feed_path == out / "newsletter" / "feed.xml" and report.feed_items == 4
    assert "feed: the latest 4 papers in feed.xml" in report.summary()
    channel = ET.parse(report.feed_path).getroot().find("channel")
    assert channel is not None
    assert channel.findtext("title") == "AI Papers Digest"  # no date: it spans the digests
    assert channel.find(f"{ATOM}link").get("href") == "https://news.example.org/ai/feed.xml"
    items = channel.findall("item")
    # the latest 4: the newer digest (2024-10-22) first, then by votes; whatever date was asked
    assert [i.findtext("guid") for i in items] == [
        "arxiv:2410.16256",
        "arxiv:2410.15735",
        "arxiv:2410.13720",
        "arxiv:2410.13754",
    ]
    assert parsedate_to_datetime(items[0].findtext("pubDate")).date() == date(2024, 10, 22)
    assert parsedate_to_datetime(channel.findtext("pubDate")).date() == date(2024, 10, 22)
    # md/html only: no feed is written
    (out / "newsletter" / "feed.xml").unlink()
    assert newsletter_stage(settings, formats=["md"], intro=False).feed_path is None
    assert not (out / "newsletter" / "feed.xml").exists()


def test_without_site_url_a_warning_and_no_made_up_address(
    out: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = load_settings(out_dir=out, progress="off")
    assert settings.newsletter.site_url is None
    report = newsletter_stage(settings, date=date(2024, 10, 21), formats=["rss", "html"], intro=False)
    assert "newsletter.site_url is not set" in caplog.text and "DIGEST_NEWSLETTER__SITE_URL" in caplog.text
    for path in [*report.paths, report.feed_path]:
        text = path.read_text(encoding="utf-8")
        assert "example.invalid" not in text
        if path.suffix == ".xml":
            channel = ET.fromstring(text).find("channel")
            assert channel.findtext("link") == "https://huggingface.co/papers"
            assert channel.find(f"{ATOM}link") is None  # no self link to an address we don't know
    caplog.clear()
    newsletter_stage(settings, date=date(2024, 10, 21), formats=["html"], intro=False)
    assert "site_url" not in caplog.text  # only feeds need it


def test_site_url_must_be_a_url(out: Path) -> None:
    from pipeline.errors import ConfigError

    with pytest.raises(ConfigError, match="site_url must be an http"):
        load_settings(out_dir=out, newsletter={"site_url": "news.example.org"})


def test_html_names_a_cjk_font_stack(out: Path) -> None:
    settings = load_settings(out_dir=out, progress="off")
    (path,) = newsletter_stage(settings, date=date(2024, 10, 21), formats=["html"], intro=False).paths
    body = re.search(r'<body [^>]*style="([^"]*)"', path.read_text(encoding="utf-8")).group(1)
    stack = body.split("font-family:")[1]
    for font in ("Apple SD Gothic Neo", "Malgun Gothic", "Noto Sans CJK KR", "sans-serif"):
        assert font in stack
    assert stack.index("Arial") < stack.index("Noto Sans CJK KR")  # Latin first, CJK as fallbacks
