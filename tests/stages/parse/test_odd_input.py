"""Odd and hostile digest files (issue 17): nothing lost, everything named with file and line.

Every case goes through the ``digest`` entry point: the message, the exit status, and the
entries written."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.stages.parse import parse_files
from pipeline.stages.parse.decode import decode_digest
from tests.paths import SEEDS

GOOD = SEEDS / "003_b7604eca8e731035.txt"  # 12 entries


def _digest(args: list[str]):
    result = CliRunner().invoke(main, args, env={"DIGEST_PROGRESS": "off"})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    return result


def _entries(out: Path) -> list[dict]:
    return [json.loads(x) for x in (out / "entries.jsonl").read_text(encoding="utf-8").splitlines()]


def _good_entries(tmp_path: Path) -> list[dict]:
    out = tmp_path / "reference"
    assert _digest(["parse", str(GOOD), "--out", str(out)]).exit_code == 0
    return _entries(out)


def _without_source(entries: list[dict]) -> list[dict]:
    return [{k: v for k, v in e.items() if k not in ("source_file", "provenance")} for e in entries]


# -- NUL bytes and control characters --------------------------------------------------------


@pytest.mark.parametrize("where", ["head", "tail"])
def test_a_nul_byte_is_removed_with_a_warning_and_every_entry_kept(tmp_path: Path, where: str) -> None:
    """A NUL in the first 8 KB made the file "binary" (12 entries lost); a later one went
    into the records as \\u0000.  Now: removed, named by line, every entry kept."""
    lines = GOOD.read_bytes().split(b"\n")
    target = 4 if where == "head" else len(lines) - 5  # a bullet line near the start / the end
    assert lines[target].strip()
    lines[target] = lines[target][:10] + b"\x00" + lines[target][10:]
    src = tmp_path / "nul.md"
    src.write_bytes(b"\n".join(lines))
    out = tmp_path / "out"
    result = _digest(["parse", str(src), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert f"{src}:{target + 1}: NUL byte removed" in result.output
    entries = _entries(out)
    assert _without_source(entries) == _without_source(_good_entries(tmp_path))
    assert "\\u0000" not in (out / "entries.jsonl").read_text(encoding="utf-8")


def test_other_control_characters_are_removed_and_named(tmp_path: Path) -> None:
    text = GOOD.read_text(encoding="utf-8").split("\n")
    text[4] = text[4][:8] + "\x07\x1b" + text[4][8:]
    text[6] = text[6] + "\x0c"  # a form feed: also no line break of its own
    src = tmp_path / "ctl.md"
    src.write_text("\n".join(text), encoding="utf-8")
    report = parse_files([src])
    said = {(i.line, i.message) for i in report.issues}
    assert (5, "control character(s) U+0007, U+001B removed") in said
    assert (7, "control character(s) U+000C removed") in said
    assert len(report.entries) == 12


# -- encodings ----------------------------------------------------------------------------------


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_utf16_and_utf32_digests_are_decoded(tmp_path: Path, codec: str) -> None:
    """UTF-16 with a BOM was "binary file, not a digest"; without a BOM it is detected from
    its zero bytes (a digest's Markdown and URLs are ASCII)."""
    src = tmp_path / f"{codec}.md"
    src.write_bytes(GOOD.read_text(encoding="utf-8").encode(codec))
    out = tmp_path / "out"
    result = _digest(["parse", str(src), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "binary" not in result.output
    assert _without_source(_entries(out)) == _without_source(_good_entries(tmp_path))


def test_utf16_sniffing_does_not_take_binary_or_korean_text_for_utf16() -> None:
    from pipeline.stages.parse.decode import sniff_utf16

    korean = GOOD.read_text(encoding="utf-8")
    assert sniff_utf16(korean.encode("utf-8")) is None
    assert sniff_utf16(korean.encode("cp949", errors="replace")) is None
    assert sniff_utf16(bytes(range(256)) * 64) is None
    assert sniff_utf16(korean.encode("utf-16-le")) == "utf-16-le"
    text, issues = decode_digest(bytes(range(256)) * 64, "x.md")
    assert text is None and "binary" in issues[0].message


def test_a_line_in_another_encoding_is_named_and_the_file_stays_utf8() -> None:
    lines = GOOD.read_text(encoding="utf-8").split("\n")
    i = next(
        n for n, line in enumerate(lines) if "요약" in line or any("\uac00" <= c <= "\ud7a3" for c in line)
    )
    data = b"\n".join(
        line.encode("cp949", errors="replace") if n == i else line.encode("utf-8")
        for n, line in enumerate(lines)
    )
    text, issues = decode_digest(data, "x.md")
    assert (
        text is not None and text.split("\n")[:i] == lines[:i] and text.split("\n")[i + 1 :] == lines[i + 1 :]
    )
    assert [(x.line, x.message) for x in issues] == [(i + 1, "invalid UTF-8 bytes replaced with U+FFFD")]


def test_a_cp949_file_with_little_korean_is_still_cp949() -> None:
    text = "## Daily Papers (2024-06-06)\n\n### [A title](https://arxiv.org/abs/2406.01234)\n"
    text += "- Vote: 12\n- *** Summary ***: " + "English words here " * 30 + "요약\n"
    decoded, issues = decode_digest(text.encode("cp949"), "x.md")
    assert decoded == text
    assert [x.message for x in issues] == ["decoded as CP949/EUC-KR"]


def test_a_missing_heading_is_named_and_the_lines_stay_with_the_entry_before(tmp_path: Path) -> None:
    lines = GOOD.read_text(encoding="utf-8").split("\n")
    second = [n for n, line in enumerate(lines) if line.startswith("### [")][1]
    path = tmp_path / "digest.md"
    lines = lines[:second] + lines[second + 1 :]
    path.write_text("\n".join(lines), encoding="utf-8")
    vote = next(n for n in range(second, len(lines)) if lines[n].startswith("Vote:")) + 1
    report = parse_files([path])
    assert len(report.entries) == 11  # the second entry has no heading left
    first = report.entries[0]
    assert first.votes == 24  # the next entry's "Vote: 4x" does not overwrite the first one's
    named = [(i.line, i.message) for i in report.issues]
    assert any(line == vote and "'Vote' line inside the summary" in m for line, m in named), named


# -- folders ------------------------------------------------------------------------------------


def test_a_symlink_loop_between_two_files_is_named(tmp_path: Path) -> None:
    d = tmp_path / "digests"
    d.mkdir()
    (d / "good.md").write_bytes(GOOD.read_bytes())
    (d / "a.md").symlink_to(d / "b.md")
    (d / "b.md").symlink_to(d / "a.md")
    (d / "gone.md").symlink_to(d / "missing.md")
    result = _digest(["parse", str(d), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output  # a warning, the good file parsed
    assert f"{d / 'a.md'}: symbolic link loop: skipped" in result.output
    assert f"{d / 'b.md'}: symbolic link loop: skipped" in result.output
    assert f"{d / 'gone.md'}: broken symbolic link" in result.output
    assert len(_entries(tmp_path / "out")) == 12


def test_a_folder_link_loop_is_named_once_and_not_followed_forever(tmp_path: Path) -> None:
    d = tmp_path / "digests"
    (d / "sub").mkdir(parents=True)
    (d / "sub" / "good.md").write_bytes(GOOD.read_bytes())
    (d / "sub" / "up").symlink_to(d)  # digests/sub/up -> digests
    report = parse_files([d])
    assert len(report.entries) == 12 and report.files == 1
    loops = [str(i) for i in report.issues if "loop" in i.message]
    assert loops == [f"{d / 'sub' / 'up'}: symbolic link loop: folder already read, skipped"]


def test_an_unreadable_sub_folder_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    d = tmp_path / "digests"
    (d / "locked").mkdir(parents=True)
    (d / "locked" / "x.md").write_bytes(GOOD.read_bytes())
    (d / "good.md").write_bytes(GOOD.read_bytes())
    real_scandir = os.scandir

    def scandir(path):  # noqa: ANN001, ANN202 - chmod 000 does not stop root, so refuse here
        if Path(path) == d / "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    result = _digest(["parse", str(d), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert f"{d / 'locked'}: cannot read folder: Permission denied: skipped" in result.output
    assert len(_entries(tmp_path / "out")) == 12


def test_a_folder_without_digests_says_so(tmp_path: Path) -> None:
    d = tmp_path / "empty"
    d.mkdir()
    (d / "notes.pdf").write_bytes(b"%PDF-1.4")
    result = _digest(["parse", str(d), "--out", str(tmp_path / "out")])
    assert result.exit_code == 3
    assert f"no digest files (*.md, *.txt, *.markdown) in {d}" in result.output


# -- values -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "vote", ["-99999999999999999999999", "-1", "10000000", "99999999999999999999999999999999"]
)
def test_votes_out_of_range_become_none_with_a_warning(tmp_path: Path, vote: str) -> None:
    lines = GOOD.read_text(encoding="utf-8").split("\n")
    at = next(i for i, line in enumerate(lines) if line.startswith("Vote:"))
    lines[at] = f"Vote: {vote}"
    src = tmp_path / "votes.md"
    src.write_text("\n".join(lines), encoding="utf-8")
    out = tmp_path / "out"
    result = _digest(["parse", str(src), "--out", str(out)])
    assert result.exit_code == 0
    assert f"{src}:{at + 1}: votes out of range (0 <= votes < 10,000,000)" in result.output
    entries = _entries(out)
    assert len(entries) == 12
    assert all(e["votes"] is None or 0 <= e["votes"] < 10**7 for e in entries)
    assert sum(e["votes"] is None for e in entries) == 1


def test_the_largest_and_smallest_votes_are_kept(tmp_path: Path) -> None:
    src = tmp_path / "v.md"
    src.write_text(
        "## 2025-01-01\n\n### [A](https://arxiv.org/abs/2501.00001)\n\nVote: 9,999,999\n\n- 내용\n\n"
        "### [B](https://arxiv.org/abs/2501.00002)\n\nVote: 0\n\n- 내용\n",
        encoding="utf-8",
    )
    report = parse_files([src])
    assert [e.votes for e in report.entries] == [9_999_999, 0]
    assert not report.issues


# -- --strict and the summary -------------------------------------------------------------------


def test_strict_fails_on_any_problem_and_the_summary_counts_them(tmp_path: Path, fixtures: Path) -> None:
    problems = [fixtures / "broken_no_link.md", fixtures / "broken_cp949.md"]
    out = tmp_path / "out"
    lenient = _digest(["parse", *map(str, problems[1:]), "--out", str(out)])
    assert lenient.exit_code == 0  # the CP949 file is read in full: a note, no problem
    assert "problems" not in lenient.output.splitlines()[-1]
    assert _digest(["parse", "--strict", *map(str, problems[1:]), "--out", str(out)]).exit_code == 0

    plain = _digest(["parse", str(problems[0]), "--out", str(out)])
    issues = [json.loads(x) for x in (out / "parse_issues.jsonl").read_text().splitlines()]
    n = sum(1 for i in issues if i["severity"] in ("error", "warning"))
    summary = plain.output.strip().splitlines()[-1]
    assert f"; {n} problems (" in summary and n > 1 and str(out / "parse_issues.jsonl") in summary

    strict = _digest(["parse", "--strict", str(problems[0]), "--out", str(out)])
    assert strict.exit_code == 3 and "--strict" in strict.output


def test_strict_warnings_only_fail_too(tmp_path: Path, fixtures: Path) -> None:
    warn_only = fixtures / "broken_no_bullets.md"
    assert _digest(["parse", str(warn_only), "--out", str(tmp_path / "a")]).exit_code == 0
    result = _digest(["parse", "--strict", str(warn_only), "--out", str(tmp_path / "b")])
    assert result.exit_code == 3
    assert "1 problem (1 warning)" in result.output


def test_run_strict_stops_after_parse(tmp_path: Path, fixtures: Path) -> None:
    out = tmp_path / "out"
    result = _digest(
        ["run", "--strict", "--llm", "mock", str(fixtures / "broken_no_bullets.md"), "--out", str(out)]
    )
    assert result.exit_code == 3
    assert "--strict: parse problems" in result.output
    assert (out / "entries.jsonl").exists() and not (out / "translations.jsonl").exists()
