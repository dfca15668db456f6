"""``digest newsletter`` through the click entry point."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.llm.mock import get_default_mock
from pipeline.settings import load_settings


@pytest.fixture
def out(tmp_path: Path, fixtures: Path) -> Path:
    out = tmp_path / "out"
    out.mkdir()
    for name in ("entries", "translations", "metadata"):
        shutil.copy(fixtures / f"newsletter_{name}.jsonl", out / f"{name}.jsonl")
    return out


def chat_requests(out: Path) -> int:
    mock = get_default_mock(load_settings(out_dir=out, llm={"provider": "mock"}))
    return mock.stats["by_endpoint"].get("chat", 0)


def test_cli_range_with_formats_and_intro(out: Path) -> None:
    result = CliRunner().invoke(
        main,
        [
            "newsletter",
            "--out",
            str(out),
            "--llm",
            "mock",
            "--since",
            "2024-10-21",
            "--until",
            "2024-10-22",
            "--format",
            "md,rss",
            "--top",
            "2",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "1 newsletter issue(s), 2 files, 7 papers" in result.output
    assert "intro: 1 written" in result.output
    files = sorted(p.name for p in (out / "newsletter").iterdir())
    # beside the issue: the cumulative feed (written whenever RSS is)
    assert files == ["digest-2024-10-21_2024-10-22.md", "digest-2024-10-21_2024-10-22.xml", "feed.xml"]
    md = (out / "newsletter" / "digest-2024-10-21_2024-10-22.md").read_text()
    top = md.split("## Top papers")[1].split("## Papers by topic")[0]
    assert top.count("\n1. ") == 1 and top.count("\n2. ") == 1 and "\n3. " not in top
    assert chat_requests(out) == 1


def test_cli_no_intro_makes_no_llm_request(out: Path) -> None:
    result = CliRunner().invoke(main, ["newsletter", "--out", str(out), "--llm", "mock", "--no-intro"])
    assert result.exit_code == 0, result.output
    assert "intro: skipped" in result.output
    assert (out / "newsletter" / "digest-2024-10-22.html").exists()  # default: the latest date
    assert chat_requests(out) == 0
    assert not (out / "cache" / "newsletter.jsonl").exists()


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--date", "2030-01-01"], 3, "no papers on 2030-01-01"),
        (["--date", "2024-10-21", "--until", "2024-10-22"], 2, "not both"),
        (["--format", "pdf"], 2, "unknown newsletter format 'pdf'"),
        (["--date", "21/10/2024"], 2, "Invalid value for '--date'"),
    ],
)
def test_cli_errors_are_clean(out: Path, args: list[str], code: int, message: str) -> None:
    result = CliRunner().invoke(main, ["newsletter", "--out", str(out), "--no-intro", *args])
    assert result.exit_code == code
    assert message in result.output
    assert "Traceback" not in result.output


def test_cli_without_api_key_still_writes_without_intro(out: Path, caplog: pytest.LogCaptureFixture) -> None:
    result = CliRunner().invoke(
        main, ["newsletter", "--out", str(out), "--date", "2024-10-21", "--format", "md"]
    )
    assert result.exit_code == 0, result.output
    assert "intro: 0 written, 0 cached, 1 failed" in result.output
    assert "newsletter intro skipped: no API key" in caplog.text  # the warning says why
    assert (out / "newsletter" / "digest-2024-10-21.md").exists()


def test_cli_cumulative_feed_and_site_url_warning(out: Path) -> None:
    args = ["newsletter", "--out", str(out), "--format", "rss", "--no-intro"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    feed = out / "newsletter" / "feed.xml"
    assert f"  {feed}  (the latest 7 papers)" in result.stdout  # every paper: fewer than feed_items
    assert "newsletter.site_url is not set" in result.stderr
    assert "example.invalid" not in feed.read_text()
    env = {"DIGEST_NEWSLETTER__SITE_URL": "https://news.example.org", "DIGEST_NEWSLETTER__FEED_ITEMS": "3"}
    result = CliRunner().invoke(main, args, env=env)
    assert result.exit_code == 0 and "site_url" not in result.stderr
    assert "(the latest 3 papers)" in result.stdout
    assert "https://news.example.org/feed.xml" in feed.read_text()
