"""Broken digests and bad settings, through the ``digest`` entry point: a clear message
naming the file (and line), the right exit code, every good entry kept, no traceback."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli import main
from tests.paths import FIXTURES, ROOT

GOOD = ROOT / "seeds" / "003_b7604eca8e731035.txt"  # 12 entries
BROKEN = sorted(FIXTURES.glob("broken_*.md"))


def _invoke(args: list[str], env: dict[str, str] | None = None):
    result = CliRunner().invoke(main, args, env={"DIGEST_PROGRESS": "off", **(env or {})})
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def _ids(out: Path) -> list[str]:
    lines = (out / "entries.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["id"] for line in lines]


def _make_binary(path: Path) -> Path:
    path.write_bytes(bytes(range(256)) * 64)
    return path


def _make_huge(path: Path, mb: int = 50) -> Path:
    """A 50 MB file made of a real digest, repeated (written in tmp, never committed)."""
    block = GOOD.read_bytes()
    with open(path, "wb") as f:
        for _ in range(mb * 2**20 // len(block) + 1):
            f.write(block)
    return path


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    d = tmp_path / "digests"
    d.mkdir()
    shutil.copy(GOOD, d / GOOD.name)
    for f in BROKEN:
        shutil.copy(f, d / f.name)
    _make_binary(d / "broken_binary.md")
    _make_huge(d / "broken_huge.md")
    return d


def test_broken_corpus_keeps_every_good_entry(corpus: Path, tmp_path: Path):
    out = tmp_path / "out"
    result = _invoke(["parse", str(corpus), "--out", str(out)])
    err = result.output
    assert result.exit_code == 3  # InputError: a file or an entry was skipped

    def said(name: str, line: int | None, text: str) -> bool:
        where = f"{corpus / name}:{line}:" if line else f"{corpus / name}:"
        return any(where in m and text in m for m in err.splitlines())

    assert said("broken_binary.md", None, "binary file, not a digest: skipped")
    assert said("broken_huge.md", None, "larger than the 20 MB limit for one digest: skipped")
    assert said("broken_cp949.md", None, "decoded as CP949/EUC-KR")
    assert said("broken_badbytes.md", 9, "invalid UTF-8 bytes replaced")
    assert said("broken_truncated.md", 19, "file ends inside a character (truncated?)")
    assert said("broken_no_bullets.md", 12, "entry has no summary bullets")
    assert said("broken_no_link.md", 3, "heading has no link")
    assert said("broken_no_link.md", 7, "heading without a title: entry skipped")

    ids = _ids(out)
    good = _ids_of(GOOD, tmp_path)
    assert set(good) <= set(ids)  # all 12 good entries
    for kept in (
        "2503.10001",
        "2503.10002",
        "2503.10011",
        "2503.10021",
        "2503.10022",
        "2503.10031",
        "2503.10032",
        "2503.10033",
        "2503.10041",
    ):
        assert kept in ids
    assert any(i.startswith("title-") for i in ids)  # the entry without a link
    assert len(ids) == len(good) + 10
    issues = [json.loads(x) for x in (out / "parse_issues.jsonl").read_text().splitlines()]
    assert {Path(i["file"]).name for i in issues} >= {"broken_binary.md", "broken_huge.md"}


def _ids_of(path: Path, tmp: Path) -> list[str]:
    out = tmp / "good_only"
    assert _invoke(["parse", str(path), "--out", str(out)]).exit_code == 0
    return _ids(out)


def test_warnings_only_exit_zero(tmp_path: Path):
    files = [FIXTURES / n for n in ("broken_cp949.md", "broken_badbytes.md", "broken_no_bullets.md")]
    result = _invoke(["parse", *map(str, files), "--out", str(tmp_path)])
    assert result.exit_code == 0
    # the CP949 file is read in full: a note, not a problem
    assert "2 problems (2 warnings)" in result.output


def test_nothing_usable_is_an_input_error(tmp_path: Path):
    result = _invoke(["parse", str(_make_binary(tmp_path / "x.md")), "--out", str(tmp_path / "out")])
    assert result.exit_code == 3
    assert "parsed 0 entries" in result.output
    result = _invoke(["parse", str(tmp_path / "missing.md"), "--out", str(tmp_path / "out")])
    assert result.exit_code == 3
    assert f"{tmp_path / 'missing.md'}: no such file or folder" in result.output
    # a later stage on a folder with no parse output says what to run
    result = _invoke(["translate", "--llm", "mock", "--out", str(tmp_path / "empty")])
    assert result.exit_code == 3
    assert "run `digest parse` first" in result.output


def test_junk_text_gets_one_message_not_one_per_line(tmp_path: Path):
    junk = tmp_path / "notes.md"
    junk.write_text("## 2025-01-01\n" + "just some notes, not a digest\n" * 5000, encoding="utf-8")
    result = _invoke(["parse", str(junk), str(GOOD), "--out", str(tmp_path / "out")])
    lines = [m for m in result.output.splitlines() if "notes.md" in m]
    assert len(lines) == 2, lines  # not 5,000
    assert f"{junk}:2: text outside any entry ignored (5000 lines)" in lines[0]
    assert f"{junk}: no entries found (is this a digest?)" in lines[1]


def test_run_on_broken_corpus_translates_the_good_entries(corpus: Path, tmp_path: Path):
    (corpus / "broken_huge.md").unlink()
    out = tmp_path / "out"
    result = _invoke(
        ["run", "--llm", "mock", str(corpus), "--out", str(out), "--skip", "index", "--skip", "newsletter"]
    )
    assert result.exit_code == 3  # the input problems are still reported at the end
    ids = set(_ids(out))
    translated = {json.loads(x)["entry_id"] for x in (out / "translations.jsonl").read_text().splitlines()}
    enriched = {json.loads(x)["entry_id"] for x in (out / "metadata.jsonl").read_text().splitlines()}
    with_sections = {
        json.loads(x)["id"]
        for x in (out / "entries.jsonl").read_text().splitlines()
        if json.loads(x)["sections"]
    }
    assert translated == with_sections and enriched == ids


# ---------------------------------------------------------------------------- bad settings


@pytest.fixture
def parsed(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    assert _invoke(["parse", str(FIXTURES / "broken_cp949.md"), "--out", str(out)]).exit_code == 0
    return out


@pytest.mark.parametrize(
    ("args", "env", "code", "message"),
    [
        (["--llm", "mock", "--model", "gpt-nope"], {}, 2, "unknown model 'gpt-nope'"),
        (["--base-url", "ftp://example.com"], {}, 2, "base_url must start with http:// or https://"),
        (["--base-url", "not a url"], {}, 2, "base_url must start with http:// or https://"),
        (
            ["--llm", "openai", "--base-url", "https://llm.example.com/v1"],
            {},
            2,
            "no API key for llm.example.com",
        ),
        (["--llm", "openai"], {}, 2, "no API key for api.openai.com"),
        (["--concurrency", "-2"], {}, 2, "llm.concurrency"),
        (["--llm", "mock"], {"DIGEST_LLM__TIMEOUT": "soon"}, 2, "llm.timeout"),
        (
            ["--llm", "mock"],
            {"DIGEST_LLM__MOCK_FAULTS": "rate=3"},
            2,
            "mock fault rates must be between 0 and 1",
        ),
        (["--llm", "mock"], {"DIGEST_LLM__MOCK_FAULTS": "kinds=gremlins"}, 2, "unknown mock fault kind"),
        (["--llm", "mock"], {"DIGEST_LLM__CHAT_MODLE": "gpt-4o"}, 2, "llm.chat_modle: Extra inputs"),
        (
            ["--llm", "openai", "--base-url", "http://127.0.0.1:9/v1"],
            {"DIGEST_LLM__MAX_RETRIES": "0"},
            4,
            "cannot reach the LLM endpoint at 127.0.0.1:9",
        ),
    ],
)
def test_bad_settings_clear_error(
    parsed: Path, args: list[str], env: dict[str, str], code: int, message: str
):
    result = _invoke(["translate", *args, "--out", str(parsed)], env)
    assert result.exit_code == code, result.output
    assert "error: " in result.output and message in result.output, result.output
    assert result.output.count("error:") == 1


def test_bad_config_files(parsed: Path, tmp_path: Path):
    missing = tmp_path / "nope.toml"
    result = _invoke(["translate", "--config", str(missing), "--out", str(parsed)])
    assert result.exit_code == 2 and f"config file not found: {missing}" in result.output
    broken = tmp_path / "broken.toml"
    broken.write_text("[llm\nchat_model = ", encoding="utf-8")
    result = _invoke(["translate", "--config", str(broken), "--out", str(parsed)])
    assert result.exit_code == 2 and f"(config file {broken})" in result.output
    unknown = tmp_path / "unknown.toml"
    unknown.write_text('[llm]\nchat_modle = "gpt-4o"\n', encoding="utf-8")
    result = _invoke(["translate", "--config", str(unknown), "--out", str(parsed)])
    assert result.exit_code == 2 and "llm.chat_modle" in result.output


def test_unknown_model_through_a_real_server(parsed: Path):
    """The same error from the mock behind a real port (the SDK's own 404 handling)."""
    from pipeline.llm.mock.http import serve

    with serve() as server:
        result = _invoke(
            [
                "translate",
                "--llm",
                "openai",
                "--base-url",
                server.url,
                "--model",
                "gpt-9",
                "--out",
                str(parsed),
            ],
            {"DIGEST_LLM__API_KEY": "local-test-key"},
        )
    assert result.exit_code == 2
    assert f"unknown model 'gpt-9' at 127.0.0.1:{server.port}" in result.output
    assert os.environ.get("DIGEST_LLM__API_KEY") is None
