"""Newsletter stage: structure, ordering, grouping, pending notes, escaping, intro, dates."""

from __future__ import annotations

import re
import shutil
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import pytest

from pipeline.errors import ConfigError, InputError
from pipeline.llm import make_llm
from pipeline.llm.mock import MockLLM
from pipeline.settings import load_settings
from pipeline.stages.newsletter.stage import newsletter_all_dates, newsletter_stage
from pipeline.text.markdown import md_escape
from tests.paths import ROOT

EVIL = '<script>alert(1)</script> Tom & "Jerry" *bold* [link](x) _under_ #1 `code`'
D21, D22 = date(2024, 10, 21), date(2024, 10, 22)
# the fixture's papers seen on 2024-10-21, by votes desc then title (two have 4 votes)
ORDER_21 = ["2410.13720", "2410.13754", "2410.15735", "2410.99999", "2410.13618", "2410.10210"]


def make_out(tmp_path: Path, fixtures: Path, *, translations: bool = True, metadata: bool = True) -> Path:
    out = tmp_path / "out"
    out.mkdir()
    shutil.copy(fixtures / "newsletter_entries.jsonl", out / "entries.jsonl")
    if translations:
        shutil.copy(fixtures / "newsletter_translations.jsonl", out / "translations.jsonl")
    if metadata:
        shutil.copy(fixtures / "newsletter_metadata.jsonl", out / "metadata.jsonl")
    return out


def settings_for(out: Path, **newsletter: object):
    return load_settings(
        out_dir=out, progress="off", llm={"provider": "mock", "max_retries": 0}, newsletter=newsletter or None
    )


@pytest.fixture
def out(tmp_path: Path, fixtures: Path) -> Path:
    return make_out(tmp_path, fixtures)


class _Html(HTMLParser):
    """Collects tags, the text of each paper <article>, and all visible text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []
        self.articles: list[dict] = []
        self.stack: list[str] = []
        self._article: dict | None = None

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        attrs = dict(attrs)
        if tag == "article":
            self._article = {"id": attrs.get("data-id"), "text": "", "hrefs": []}
            self.articles.append(self._article)
        if tag == "a" and self._article is not None:
            self._article["hrefs"].append(attrs.get("href"))
        if tag == "h2":
            self.stack.append("h2")
            self.text.append("\n[H2]")

    def handle_endtag(self, tag):
        if tag == "article":
            self._article = None

    def handle_data(self, data):
        self.text.append(data)
        if self._article is not None:
            self._article["text"] += data


def parse_html(path: Path) -> _Html:
    p = _Html()
    p.feed(path.read_text(encoding="utf-8"))
    return p


def md_sections(md: str) -> dict[str, str]:
    """Top-level '## ' sections of the Markdown."""
    parts = re.split(r"^## (.+)$", md, flags=re.M)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts) - 1, 2)}


# -- structure and ordering --------------------------------------------------------------------


def test_daily_issue_structure_order_and_grouping(out: Path) -> None:
    report = newsletter_stage(settings_for(out, top_n=3), date=D21, intro=False)
    names = sorted(p.name for p in report.paths)
    assert names == ["digest-2024-10-21.html", "digest-2024-10-21.md", "digest-2024-10-21.xml"]
    md = (out / "newsletter" / "digest-2024-10-21.md").read_text()
    assert md.startswith("# AI Papers Digest — 21 October 2024\n")
    sections = md_sections(md)
    assert list(sections) == ["Top papers", "Papers by topic"]

    top = re.findall(r"^\d+\. .*?arxiv\.org/abs/([\d.]+)\)", sections["Top papers"], flags=re.M)
    assert top == ORDER_21[:3]

    by_topic = sections["Papers by topic"]
    topics = re.findall(r"^### (.+) \((\d+)\)$", by_topic, flags=re.M)
    # one paper per real topic, so taxonomy order; no-metadata papers last
    assert topics == [
        ("Language models", "1"),
        ("Video", "1"),
        ("Efficiency", "1"),
        ("Evaluation and benchmarks", "1"),
        ("Uncategorised", "2"),
    ]
    ids = re.findall(r"^#### \[.*\]\(https://arxiv\.org/abs/([\d.]+)\)$", by_topic, flags=re.M)
    assert sorted(ids) == sorted(ORDER_21)  # every paper exactly once
    assert len(ids) == len(set(ids))
    uncategorised = by_topic.split("### Uncategorised")[1]
    assert re.findall(r"abs/([\d.]+)\)$", uncategorised, flags=re.M) == ["2410.13618", "2410.10210"]

    html = parse_html(out / "newsletter" / "digest-2024-10-21.html")
    assert [a["id"] for a in html.articles] == [
        "2410.99999",
        "2410.13720",
        "2410.15735",
        "2410.13754",
        "2410.13618",
        "2410.10210",
    ]
    assert report.summary().startswith("1 newsletter issue(s), 3 files, 6 papers")


def test_topics_ordered_by_count_then_taxonomy(out: Path) -> None:
    newsletter_stage(settings_for(out), since=D21, until=D22, formats=["md"], intro=False)
    md = (out / "newsletter" / "digest-2024-10-21_2024-10-22.md").read_text()
    topics = re.findall(r"^### (.+) \((\d+)\)$", md, flags=re.M)
    assert topics[0] == ("Evaluation and benchmarks", "2")  # the biggest topic first
    assert topics[-1] == ("Uncategorised", "2")
    ids = re.findall(r"^#### \[.*\]\(https://arxiv\.org/abs/([\d.]+)\)$", md, flags=re.M)
    assert len(ids) == 7 == len(set(ids))  # the paper seen on both days appears once


def test_paper_details_authors_votes_tldr_results_code(out: Path) -> None:
    newsletter_stage(settings_for(out), date=D21, formats=["md", "html"], intro=False)
    md = (out / "newsletter" / "digest-2024-10-21.md").read_text()
    block = md.split("#### [MixEval-X")[1].split("\n#### ")[0]
    assert "Bo Li, Yifan Song, Kaichen Zhang et al. · 67 votes · arXiv:2410.13754" in block
    assert "**TL;DR:** An any-to-any benchmark whose rankings track real-world use." in block
    assert "- correlation with crowd rankings: **0.98** (Spearman)" in block
    assert "[Code](https://github.com/Psycoy/MixEval-X)" in block
    html = parse_html(out / "newsletter" / "digest-2024-10-21.html")
    art = next(a for a in html.articles if a["id"] == "2410.13754")
    assert "https://arxiv.org/abs/2410.13754" in art["hrefs"]
    assert "https://github.com/Psycoy/MixEval-X" in art["hrefs"]
    assert "67 votes" in art["text"]


def test_unsafe_link_schemes_are_dropped(out: Path) -> None:
    newsletter_stage(settings_for(out), date=D21, formats=["md", "html"], intro=False)
    for name in ("digest-2024-10-21.md", "digest-2024-10-21.html"):
        text = (out / "newsletter" / name).read_text()
        assert "javascript:" not in text
        assert "https://github.com/example/evil_repo" in text


# -- missing translation / metadata ----------------------------------------------------------------


def test_missing_translation_and_metadata_are_marked(out: Path) -> None:
    newsletter_stage(settings_for(out), date=D21, formats=["md", "html"], intro=False)
    html = parse_html(out / "newsletter" / "digest-2024-10-21.html")
    arts = {a["id"]: a["text"] for a in html.articles}
    # no metadata: English section instead of a TL;DR, marked
    assert "LoLDU is a parameter-efficient fine-tuning method" in arts["2410.13618"]
    assert "Metadata pending" in arts["2410.13618"] and "Translation pending" not in arts["2410.13618"]
    # neither: the Korean original, marked as such
    assert "Korean original" in arts["2410.10210"] and "고품질 데이터" in arts["2410.10210"]
    assert "Translation pending" in arts["2410.10210"] and "Metadata pending" in arts["2410.10210"]
    # complete papers carry no note
    assert "pending" not in arts["2410.13720"]
    footer = "".join(html.text).split("Generated by digest")[0][-200:]
    assert "6 papers · 1 translation pending · 2 metadata pending" in footer
    md = (out / "newsletter" / "digest-2024-10-21.md").read_text()
    assert md.count("> *Translation pending. Metadata pending.*") == 1
    assert md.count("> *Metadata pending.*") == 1


def test_written_without_any_translations_or_metadata(tmp_path: Path, fixtures: Path) -> None:
    out = make_out(tmp_path, fixtures, translations=False, metadata=False)
    report = newsletter_stage(settings_for(out), date=D21, formats=["md"], intro=False)
    md = (out / "newsletter" / "digest-2024-10-21.md").read_text()
    assert re.findall(r"^### (.+)$", md, flags=re.M) == ["Uncategorised (6)"]
    assert md.count("> *Translation pending. Metadata pending.*") == 6
    assert report.translation_pending == 6 and report.metadata_pending == 6


# -- escaping --------------------------------------------------------------------------------------


def test_markdown_escaping_renders_data_as_text(out: Path) -> None:
    markdown_it = pytest.importorskip("markdown_it")
    newsletter_stage(settings_for(out), date=D21, formats=["md"], intro=False)
    md = (out / "newsletter" / "digest-2024-10-21.md").read_text()
    html = markdown_it.MarkdownIt("commonmark").render(md)
    parsed = _Html()
    parsed.feed(html)
    assert "script" not in parsed.tags and "b" not in parsed.tags and "img" not in parsed.tags
    text = "".join(parsed.text)
    assert text.count(EVIL) == 2  # in "Top papers" and in its topic, as literal text
    assert 'Shows that <b>bold</b> & "quoted" *text* stays [text](y).' in text
    assert "Ada <b>Lovelace</b>, Alan Turing" in text
    # the only links are the ones we made
    assert 'href="x"' not in html and 'href="y"' not in html


@pytest.mark.parametrize(
    ("raw", "rendered"),
    [
        ("# not a heading", "# not a heading"),
        ("1. not a list", "1. not a list"),
        ("- not a list", "- not a list"),
        ("> not a quote", "> not a quote"),
        ("a_b_c *d* **e** ~~f~~ `g` $x$ | h", "a_b_c *d* **e** ~~f~~ `g` $x$ | h"),
        ("&amp; stays &amp;", "&amp; stays &amp;"),
        ("back\\slash \\*", "back\\slash \\*"),
        ("![img](http://e.invalid/x.png)", "![img](http://e.invalid/x.png)"),
        ("<https://e.invalid>", "<https://e.invalid>"),
    ],
)
def test_md_escape_round_trips_through_commonmark(raw: str, rendered: str) -> None:
    markdown_it = pytest.importorskip("markdown_it")
    html = markdown_it.MarkdownIt("commonmark").enable("strikethrough").render(md_escape(raw))
    parsed = _Html()
    parsed.feed(html)
    assert parsed.tags == ["p"]
    assert "".join(parsed.text).strip() == rendered


def test_html_escaping_and_no_scripts(out: Path) -> None:
    newsletter_stage(settings_for(out), date=D21, formats=["html"], intro=False)
    path = out / "newsletter" / "digest-2024-10-21.html"
    raw = path.read_text()
    assert "<script" not in raw and "<img" not in raw and "<b>" not in raw
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in raw
    html = parse_html(path)
    text = "".join(html.text)
    assert text.count(EVIL) == 2  # "Top papers" and its topic
    assert "script" not in html.tags and "img" not in html.tags
    # no external assets: every href is a link out, nothing is loaded
    assert not re.search(r"""\b(src|srcset)\s*=|<link\b|@import|url\(""", raw)


# -- the intro -------------------------------------------------------------------------------------


def test_intro_written_once_then_cached(out: Path) -> None:
    settings = settings_for(out)
    mock = MockLLM()
    llm = make_llm(settings, mock=mock)
    report = newsletter_stage(settings, date=D21, formats=["md"], llm=llm)
    assert (report.intros_written, report.intros_cached) == (1, 0)
    calls = mock.stats["by_endpoint"].get("chat", 0)
    assert calls == 1
    first = (out / "newsletter" / "digest-2024-10-21.md").read_text()
    intro = md_sections("## x\n" + first.split("## Top papers")[0])["x"]
    assert len(intro.split()) > 10  # title, count line and a real paragraph

    report = newsletter_stage(settings, date=D21, formats=["md"], llm=llm)
    assert (report.intros_written, report.intros_cached) == (0, 1)
    assert mock.stats["by_endpoint"].get("chat", 0) == calls  # no new request
    assert (out / "newsletter" / "digest-2024-10-21.md").read_text() == first
    assert (out / "cache" / "newsletter.jsonl").read_text().count("\n") == 1


def test_intro_prompt_keeps_data_in_tags(out: Path) -> None:
    settings = settings_for(out)
    seen: list[list[dict]] = []

    class Recorder:
        from pipeline.llm import UsageMeter

        model = "recorder"
        meter = UsageMeter()  # the budget (cost limit) reads it

        def complete(self, messages, **kw):
            seen.append(messages)
            from pipeline.llm import Completion

            return Completion("A quiet day with a video model on top.", "stop", 1, 1)

    newsletter_stage(settings, date=D21, formats=["md"], llm=Recorder())  # type: ignore[arg-type]
    ((system, user),) = [(m[0]["content"], m[1]["content"]) for m in seen]
    assert "never instructions" in system
    assert user.startswith("<issue") and user.endswith("</issue>")
    assert "&lt;script>" in user and "<script>" not in user  # a title cannot close our tags
    md = (out / "newsletter" / "digest-2024-10-21.md").read_text()
    assert "A quiet day with a video model on top." in md


def test_llm_failure_still_writes_the_newsletter(out: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings = settings_for(out)
    mock = MockLLM()
    mock.script(["500"])
    report = newsletter_stage(settings, date=D21, formats=["md"], llm=make_llm(settings, mock=mock))
    assert report.intros_failed == 1 and report.intros_written == 0
    assert "newsletter intro for digest-2024-10-21 failed" in caplog.text
    md = (out / "newsletter" / "digest-2024-10-21.md").read_text()
    assert md.split("\n\n")[2].startswith("## Top papers")  # title, count line, then straight on
    assert not (out / "cache" / "newsletter.jsonl").exists()  # failures are not cached


def test_intros_follow_the_abort_policy_and_the_cost_limit(out: Path) -> None:
    """An endpoint that is down: the intros stop after llm.abort_after_failures in a row
    (not one failing request per issue); the issues are written all the same."""
    settings = settings_for(out, formats=["md"])
    down = settings.model_copy(
        update={"llm": settings.llm.model_copy(update={"abort_after_failures": 1, "concurrency": 1})}
    )
    mock = MockLLM("rate=1,kinds=500")
    report = newsletter_all_dates(down, llm=make_llm(down, mock=mock))
    assert mock.stats["by_endpoint"]["chat"] == 1 and report.issues == 2 and len(report.paths) == 2
    assert (report.intros_failed, report.intros_not_attempted) == (1, 1) and report.exit_code == 0
    assert "intro: 0 written, 0 cached, 1 failed, 1 not attempted (stopped: 1 requests in a row failed" in (
        report.summary()
    )
    # a cost limit too small for one intro: nothing sent, the run says why (exit 6)
    poor = settings.model_copy(update={"llm": settings.llm.model_copy(update={"max_cost": 0.0000001})})
    mock = MockLLM()
    report = newsletter_all_dates(poor, llm=make_llm(poor, mock=mock))
    assert mock.stats["total"] == 0 and report.intros_not_attempted == 2 and report.exit_code == 6
    assert report.failure.startswith("newsletter intros stopped at the cost limit")


def test_no_intro_makes_no_llm_request(out: Path) -> None:
    settings = settings_for(out)
    mock = MockLLM()
    newsletter_stage(settings, date=D21, intro=False, llm=make_llm(settings, mock=mock))
    assert mock.stats["total"] == 0
    assert not (out / "cache" / "newsletter.jsonl").exists()


# -- dates -----------------------------------------------------------------------------------------


def test_date_selection(out: Path) -> None:
    settings = settings_for(out)
    # default: the latest digest date
    report = newsletter_stage(settings, formats=["md"], intro=False)
    assert [p.name for p in report.paths] == ["digest-2024-10-22.md"]
    md22 = report.paths[0].read_text()
    assert "# AI Papers Digest — 22 October 2024" in md22
    # the paper seen on both days is in both daily issues
    assert "abs/2410.15735" in md22 and "abs/2410.16256" in md22 and "abs/2410.13720" not in md22
    assert report.papers == 2

    report = newsletter_stage(settings, since=D21, formats=["md"], intro=False)  # open end -> latest
    assert [p.name for p in report.paths] == ["digest-2024-10-21_2024-10-22.md"]
    assert "21 – 22 October 2024" in report.paths[0].read_text()
    assert report.papers == 7

    with pytest.raises(InputError, match="no papers on 2024-10-23.*2024-10-21, 2024-10-22"):
        newsletter_stage(settings, date=date(2024, 10, 23), intro=False)
    with pytest.raises(ConfigError, match="not both"):
        newsletter_stage(settings, date=D21, since=D21, intro=False)
    with pytest.raises(ConfigError, match="after"):
        newsletter_stage(settings, since=D22, until=D21, intro=False)
    with pytest.raises(ConfigError, match="unknown newsletter format 'pdf'"):
        newsletter_stage(settings, formats=["pdf"], intro=False)


def test_all_dates_writes_one_issue_per_day_deterministically(out: Path) -> None:
    settings = settings_for(out, intro=False)
    report = newsletter_all_dates(settings)
    assert sorted(p.name for p in report.paths) == [
        f"digest-2024-10-2{d}.{ext}" for d in (1, 2) for ext in ("html", "md", "xml")
    ]
    first = {p: p.read_bytes() for p in report.paths}
    newsletter_all_dates(settings)
    assert {p: p.read_bytes() for p in report.paths} == first  # byte-identical re-run
    assert not list((out / "newsletter").glob(".*.tmp"))  # atomic writes leave no temp files


def test_missing_entries_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="entries.jsonl not found"):
        newsletter_stage(settings_for(tmp_path), intro=False)


def test_broken_template_is_a_config_error(out: Path, tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates)
    (templates / "newsletter.md.j2").write_text("{% for x in %}")
    settings = load_settings(out_dir=out, progress="off", templates_dir=templates)
    with pytest.raises(ConfigError, match=r"newsletter.md.j2:1"):
        newsletter_stage(settings, formats=["md"], intro=False)


# -- view-model helpers ----------------------------------------------------------------------------


def test_view_model_helpers() -> None:
    from pipeline.stages.newsletter.model import clip, date_label, normalise_topic, safe_url, short_authors

    assert short_authors(["A", "B", "C"]) == "A, B, C"
    assert short_authors(["A", " B ", "C", "D"]) == "A, B, C et al."
    assert short_authors([]) == ""
    assert clip("one two three four", 12) == "one two…"
    assert clip("short", 12) == "short"
    assert safe_url("https://github.com/x/y") == "https://github.com/x/y"
    for bad in ("javascript:alert(1)", "data:text/html,x", "//evil.example", "ftp://x", "http://a b", None):
        assert safe_url(bad) is None
    assert normalise_topic("Language models") == "language_models"  # a label or a slug
    assert normalise_topic("3d") == "3d" and normalise_topic("  ") is None
    assert normalise_topic("quantum cooking") == "quantum cooking"  # unknown values kept, not lost
    assert date_label(D21, D21) == "21 October 2024"
    assert date_label(date(2024, 9, 30), D22) == "30 September – 22 October 2024"
    assert date_label(date(2023, 12, 31), D21) == "31 December 2023 – 21 October 2024"


def test_translation_with_korean_left_counts_as_pending() -> None:
    from pipeline.records import Entry, Section, SectionTranslation
    from pipeline.stages.newsletter.model import build_paper

    entry = Entry(
        id="2401.00001",
        arxiv_id="2401.00001",
        title="T",
        source_file="f",
        source_line=1,
        sections=[Section(label="What's New", text="새로운 방법", line=1)],
    )
    half = SectionTranslation(entry_id=entry.id, index=0, source_hash="h", text="A new 방법", origin="model")
    paper = build_paper(entry, [half], None)
    assert paper.translation_pending and paper.metadata_pending
    assert paper.summary is None and paper.korean == "새로운 방법"  # never show half-translated text
    full = half.model_copy(update={"text": "A new method"})
    paper = build_paper(entry, [full], None)
    assert not paper.translation_pending and paper.summary == "A new method"
    assert paper.topic_label == "Uncategorised" and paper.guid == "arxiv:2401.00001"


def test_newsletter_files_are_world_readable(out: Path) -> None:
    report = newsletter_stage(settings_for(out), date=D21, intro=False)
    assert {p.stat().st_mode & 0o777 for p in report.paths} == {0o644}


@pytest.mark.parametrize(
    "reply",
    [
        "## Write – Say what stands out: the main themes. Reply with the paragraph only.",  # prompt echo
        "A quiet day with a video model on top, cited as [2499.00001].",  # a paper not in the issue
        "A quiet day: the video model beats its rivals by 97.3%.",  # a number no paper states
    ],
)
def test_an_intro_that_fails_its_check_is_replaced_and_flagged(out: Path, reply: str, caplog) -> None:
    settings = settings_for(out)

    class Model:
        from pipeline.llm import UsageMeter

        model = "echo"
        meter = UsageMeter()  # the budget (cost limit) reads it

        def complete(self, messages, **kw):
            from pipeline.llm import Completion

            return Completion(reply, "stop", 1, 1)

    report = newsletter_stage(settings, date=D21, formats=["md"], llm=Model())  # type: ignore[arg-type]
    assert report.intros_fallback == 1 and report.intros_written == 0
    assert "failed its check" in caplog.text and "replaced by a plain one" in report.summary()
    md = (out / "newsletter" / "digest-2024-10-21.md").read_text()
    assert reply not in md and "in this issue" in md and "The most up-voted:" in md
    assert not (out / "cache" / "newsletter.jsonl").exists()  # a rejected intro is not cached
