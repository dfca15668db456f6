"""`digest search` output a person can read: full titles (wrapped on a terminal, never cut in
a pipe), the arXiv link, date, votes, TL;DR; a weak-match note; --format table|json|jsonl|md."""

from __future__ import annotations

import json

import markdown_it
import pytest
from click.testing import CliRunner

from pipeline.cli import main
from tests.cli.everyday import ENV, Terminal, make_everyday_out

LONG = (
    "Mixture of Experts Routing at Scale: Load-Balanced Token Dispatch for Sparse Multilingual "
    "Language Models Across Thousands of Devices"
)
QUERY = "mixture of experts token routing"


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    return make_everyday_out(tmp_path_factory.mktemp("search-out")).out_dir


def search(out, *args: str):
    result = CliRunner().invoke(main, ["search", *args, "--out", str(out)], env=ENV)
    assert result.exit_code == 0, result.output
    return result


def test_piped_table_shows_full_titles_links_dates_votes_and_tldr(out) -> None:
    result = search(out, QUERY, "-k", "2")
    lines = result.stdout.splitlines()
    assert lines[0] == f"1. {LONG}"  # the whole title on one line: a pipe is never cut or wrapped
    assert len(LONG) > 120
    facts = lines[1]
    for part in ("2024-10-21", "31 votes", "Efficiency", "https://arxiv.org/abs/2410.20001", "match "):
        assert part in facts, facts
    assert lines[2].strip().startswith("TL;DR: A routing method that balances token dispatch")
    assert "weak match" not in result.stderr


def test_terminal_table_is_wrapped_to_its_width() -> None:
    """Through a real terminal 60 columns wide: every line fits, nothing of the title is lost."""
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        out = make_everyday_out(Path(tmp)).out_dir
        term = Terminal(["search", QUERY, "-k", "1", "--out", str(out)], ENV, columns=60)
        try:
            assert term.wait() == 0
        finally:
            term.close()
    lines = [ln.rstrip("\r") for ln in term.screen.split("\n") if ln.strip()]
    body = [ln for ln in lines if not ln.startswith(("INFO", "WARNING"))]
    assert max(len(ln) for ln in body) <= 60, body
    title_lines = body[: body.index(next(ln for ln in body if "2024-10-21" in ln))]
    assert len(title_lines) >= 3  # a 130-character title over several lines
    assert " ".join(ln.strip() for ln in title_lines) == f"1. {LONG}"


def test_nonsense_query_gets_a_weak_match_note(out) -> None:
    result = search(out, "banana bread recipe with walnuts")
    assert result.stdout.strip()  # the results are still shown
    assert "note: weak match" in result.stderr and "may be unrelated" in result.stderr
    assert "weak match" not in result.stdout  # a pipe gets only the results
    lenient = CliRunner().invoke(
        main,
        ["search", "banana bread recipe with walnuts", "--out", str(out)],
        env={**ENV, "DIGEST_SEARCH__MIN_RELEVANCE": "0"},
    )
    assert lenient.exit_code == 0 and lenient.stdout.strip()
    assert "weak match" not in lenient.stderr  # the threshold is the setting (0..1)


def test_json_and_jsonl_formats(out) -> None:
    as_json = json.loads(search(out, QUERY, "--format", "json").stdout)
    assert as_json == json.loads(search(out, QUERY, "--json").stdout)
    top = as_json[0]
    assert top["title"] == LONG and top["url"] == "https://arxiv.org/abs/2410.20001"
    assert top["tldr"].startswith("A routing method") and top["votes"] == 31 and top["date"] == "2024-10-21"
    lines = search(out, QUERY, "--format", "jsonl").stdout.splitlines()
    assert [json.loads(line)["entry_id"] for line in lines] == [h["entry_id"] for h in as_json]


def test_markdown_format_links_titles_and_escapes(out) -> None:
    md = search(out, QUERY, "--format", "md", "-k", "2").stdout
    html = markdown_it.MarkdownIt("commonmark").render(md)
    assert f'<a href="https://arxiv.org/abs/2410.20001">{LONG}</a>' in html
    assert "<ol>" in html and "TL;DR: A routing method" in html
    assert "2024-10-21 · 31 votes · Efficiency" in html


def test_json_and_format_conflict_is_a_usage_error(out) -> None:
    result = CliRunner().invoke(
        main, ["search", QUERY, "--json", "--format", "md", "--out", str(out)], env=ENV
    )
    assert result.exit_code == 2 and "--json is --format json" in result.output
