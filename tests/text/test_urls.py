"""THE URL extractor.  Parse (entry links) and enrich (code / project / dataset links) had one
each; they disagreed on markdown emphasis, braces, scheme-less links, Hangul Jamo
Extended-A, and both cut URLs with parentheses short."""

from __future__ import annotations

import pytest

from pipeline.text.urls import arxiv_from_url, blank_urls, classify_url, find_urls, normalize_urls


def test_urls_glued_to_hangul_and_without_scheme() -> None:
    text = (
        "코드는 https://github.com/a/b에서, 데이터는 (https://huggingface.co/datasets/o/d)와 "
        "github.com/c/d 에서 볼 수 있습니다. https://x.github.io/p/."
    )
    assert find_urls(text) == [
        "https://github.com/a/b",
        "https://huggingface.co/datasets/o/d",
        "https://github.com/c/d",
        "https://x.github.io/p/",
    ]


def test_trailing_punctuation_and_brackets() -> None:
    text = "see https://x.io/a.에서 and (https://y.io/b). Also https://z.io/c?q=1, and https://w.io/d!"
    assert find_urls(text) == ["https://x.io/a", "https://y.io/b", "https://z.io/c?q=1", "https://w.io/d"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # markdown links and autolinks
        ("[code](https://github.com/a/b)", ["https://github.com/a/b"]),
        ("[https://a.org/x](https://a.org/x)", ["https://a.org/x"]),
        ("<https://a.org/x>", ["https://a.org/x"]),
        # markdown emphasis around a link (parse kept the "**")
        ("**https://github.com/a/b**", ["https://github.com/a/b"]),
        ("_https://a.org/x_", ["https://a.org/x"]),
        # braces (parse kept the "}")
        ("{https://a.org/x}", ["https://a.org/x"]),
        # balanced parentheses belong to the URL (both extractors cut them off)
        (
            "https://en.wikipedia.org/wiki/Transformer_(deep_learning).",
            ["https://en.wikipedia.org/wiki/Transformer_(deep_learning)"],
        ),
        ("(see https://en.wikipedia.org/wiki/A_(b))", ["https://en.wikipedia.org/wiki/A_(b)"]),
        ("[w](https://en.wikipedia.org/wiki/A_(b))", ["https://en.wikipedia.org/wiki/A_(b)"]),
        # scheme-less links (parse missed them)
        ("코드: github.com/c/d 참고", ["https://github.com/c/d"]),
        ("www.example.org/page 참고", ["https://www.example.org/page"]),
        ("mail me@www.example.org", []),
        # any Hangul ends a URL, Jamo Extended-A included (parse read on)
        ("https://a.org/x\ua960\ua961", ["https://a.org/x"]),
        # quotes and duplicates
        ("'https://a.org/x' and \"https://a.org/x\"", ["https://a.org/x"]),
        ("https:// and http://", []),
    ],
)
def test_one_extractor_for_every_case(text: str, expected: list[str]) -> None:
    assert find_urls(text) == expected


def test_parse_and_enrich_read_the_same_links() -> None:
    from pipeline.stages.enrich.extract import extract_metadata
    from pipeline.stages.parse import parse_text

    text = (
        "## 2024-10-21\n### [Paper](https://arxiv.org/abs/2410.00001)\n"
        "- ***What's New***: 코드는 **https://github.com/a/b**에서, 데모는 {https://c.org/d} 참고.\n"
    )
    (entry,), _, _ = parse_text(text, "x.md")
    assert entry.links == ["https://github.com/a/b", "https://c.org/d"]
    meta = extract_metadata(entry)
    assert meta.code_urls == ["https://github.com/a/b"] and meta.project_urls == ["https://c.org/d"]


def test_blank_urls_keeps_positions() -> None:
    text = "a https://x.org/1 b"
    assert blank_urls(text) == "a " + " " * len("https://x.org/1") + " b"


def test_normalize_urls_reads_stored_links_again() -> None:
    assert normalize_urls(["https://github.com/a/b에서", "https://github.com/a/b", "https://x.org/p."]) == [
        "https://github.com/a/b",
        "https://x.org/p",
    ]


def test_arxiv_from_url() -> None:
    assert arxiv_from_url("https://arxiv.org/abs/2410.13618v2") == ("2410.13618", "v2")
    assert arxiv_from_url("https://huggingface.co/papers/2410.13618") == ("2410.13618", None)
    assert arxiv_from_url("https://example.org/2410.13618") == (None, None)


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("https://github.com/X-PLUG/MobileAgent", "code"),
        ("https://gitlab.com/group/project", "code"),
        ("https://huggingface.co/spaces/org/demo", "code"),
        ("https://huggingface.co/meta-llama/Llama-2-7b", "code"),
        ("https://huggingface.co/datasets/org/data", "dataset"),
        ("https://www.kaggle.com/datasets/u/d", "dataset"),
        ("https://zenodo.org/records/123", "dataset"),
        ("https://huggingface.co/papers/2406.02539", "paper"),
        ("https://arxiv.org/abs/2406.02539", "paper"),
        ("https://costwen.github.io/Ouroboros3D/", "project"),
        ("https://example.com/project", "project"),
    ],
)
def test_classify_url(url: str, kind: str) -> None:
    assert classify_url(url) == kind
