from __future__ import annotations

import json
from collections import Counter
from datetime import date
from pathlib import Path

from click.testing import CliRunner

from pipeline.cli import main
from pipeline.stages.parse import parse_files
from pipeline.stages.parse.decode import decode_digest
from pipeline.stages.parse.readers.hf_daily_ko import parse_authors

SEED_COUNTS = {"000": 50, "001": 19, "002": 27, "003": 12, "004": 23}


def _by_id(report):
    return {e.id: e for e in report.entries}


def test_seeds_all_131_entries(seeds_dir: Path) -> None:
    report = parse_files([seeds_dir])
    assert len(report.entries) == 131
    per_file = Counter(Path(e.source_file).name[:3] for e in report.entries)
    assert per_file == SEED_COUNTS
    assert not report.skipped_anything
    assert all(e.arxiv_id and e.url and e.title and e.date for e in report.entries)
    assert all(e.votes is not None and e.authors for e in report.entries)


def test_seed_labels_votes_authors(seeds_dir: Path) -> None:
    report = parse_files([seeds_dir])
    e = _by_id(report)
    first = e["2410.10210"]
    assert first.title.startswith("Minimum Tuning to Unlock Long Output")
    assert first.votes == 2
    assert first.date == date(2024, 10, 21)
    assert first.authors == [
        "Jintao Huang",
        "Yuze Zhao",
        "Yunlin Mao",
        "Yingda Chen",
        "Daoze Zhang",
        "Xingjun Wang",
    ]
    assert [s.label for s in first.sections] == ["What's New", "Technical Details", "Performance Highlights"]
    assert "3.74%" in first.sections[2].text
    # comma-separated authors (digest 001)
    lumi = e["2412.00177"]
    assert lumi.authors[0] == "Anand Bhattad" and len(lumi.authors) == 5
    # the ** (two-star) label variant in digest 000
    mix = [x for x in report.entries if x.title.startswith("MixEval-X")][0]
    assert [s.label for s in mix.sections] == ["What's New", "Technical Details", "Performance Highlights"]
    # the extra Conclusion label in digest 002
    labels = Counter(s.label for x in report.entries for s in x.sections)
    assert labels["Conclusion"] == 1
    # unlabelled bullets (digest 003)
    parrot = e["2406.02539"]
    assert parrot.votes == 24 and all(s.label is None for s in parrot.sections)
    assert len(parrot.sections) == 10
    # entry after the repeated date header in 000 keeps the date
    assert e["2410.14470"].date == date(2024, 10, 21)


def test_links_stop_at_hangul(seeds_dir: Path) -> None:
    e = _by_id(parse_files([seeds_dir]))
    assert e["2406.02657"].links == ["https://github.com/itsnamgyu/block-transformer"]
    assert "https://github.com/X-PLUG/MobileAgent" in e["2406.01014"].links


def test_variants(fixtures: Path) -> None:
    report = parse_files([fixtures / "parse" / "variants.md"])
    e = _by_id(report)
    nested = e["2501.00001"]
    assert nested.title == 'Nested [Brackets] & <Angle> "Quotes" in a Title'
    assert nested.arxiv_version == "v3"
    assert nested.url == "https://arxiv.org/abs/2501.00001v3"
    assert nested.authors == ["Ada Lovelace", "O'Brien, Pat", "Alan Turing"]
    assert nested.sections[0].text.endswith("다음 줄에 이어지는 문장입니다 (continued).")
    assert [s.label for s in nested.sections] == ["What's New", "Technical Details", "Conclusion"]
    assert nested.links == ["https://github.com/example/repo"]

    nolink = [x for x in report.entries if x.arxiv_id is None][0]
    assert nolink.title == "A Heading Without A Link" and nolink.id.startswith("title-")
    assert nolink.authors == ["Grace Hopper", "Edsger Dijkstra"]
    assert [s.label for s in nolink.sections] == [None, None]
    assert nolink.links == ["https://example.github.io/proj/"]

    bare = e["2501.00003"]
    assert bare.sections == [] and bare.votes == 1
    later = e["2501.00004"]
    assert later.date == date(2025, 1, 2) and later.authors == []
    messages = [str(i) for i in report.issues]
    assert any("variants.md:" in m and "no link" in m for m in messages)
    assert any("no summary bullets" in m for m in messages)
    assert not report.skipped_anything  # warnings only


def test_crlf_bom_and_cp949(fixtures: Path) -> None:
    report = parse_files([fixtures / "parse" / "crlf_bom.md", fixtures / "parse" / "cp949.md"])
    e = _by_id(report)
    crlf = e["2502.00010"]
    assert crlf.title == "CRLF Paper" and crlf.authors == ["A One", "B Two"]
    assert crlf.sections[1].text == "정확도 91.5%를 달성했습니다."
    assert not any("\r" in s.text or "\ufeff" in s.text for s in crlf.sections)
    assert e["2503.00020"].sections[0].text == "이 파일은 CP949로 인코딩되었습니다."


def test_empty_binary_and_bad_entries_keep_good_ones(fixtures: Path) -> None:
    d = fixtures / "parse"
    report = parse_files([d / "empty.md", d / "binary.md", d / "bad_entry.md", d / "crlf_bom.md"])
    ids = {e.id for e in report.entries}
    assert ids == {"2501.00100", "2502.00010"}
    msgs = [str(i) for i in report.issues]
    assert any(m.startswith(str(d / "binary.md")) and "binary" in m for m in msgs)
    assert any(m.startswith(str(d / "empty.md")) and "empty" in m for m in msgs)
    assert any(m.startswith(f"{d / 'bad_entry.md'}:3:") and "title" in m for m in msgs)
    assert any(f"{d / 'bad_entry.md'}:" in m and "votes is not a number" in m for m in msgs)
    assert report.skipped_anything and report.exit_code != 0


def test_truncated_file_keeps_what_it_can(fixtures: Path) -> None:
    report = parse_files([fixtures / "parse" / "truncated.md"])
    assert "2501.00001" in {e.id for e in report.entries}
    assert any("truncated" in str(i) for i in report.issues)


def test_duplicate_paper_keeps_both_provenances(fixtures: Path) -> None:
    d = fixtures / "parse"
    report = parse_files([d / "variants.md", d / "duplicate.md"])
    e = _by_id(report)["2501.00004"]
    assert [Path(p.file).name for p in e.provenance] == ["variants.md", "duplicate.md"]
    assert [p.date for p in e.provenance] == [date(2025, 1, 2), date(2025, 1, 5)]
    assert e.votes == 20
    assert report.duplicates_merged == 1
    assert len([x for x in report.entries if x.id == "2501.00004"]) == 1


def test_helpers() -> None:
    assert parse_authors("['A', 'B']") == ["A", "B"]
    assert parse_authors("A, B ,C") == ["A", "B", "C"]
    assert parse_authors("") == []
    text, issues = decode_digest("한글".encode("euc-kr"), "f")
    assert text == "한글" and issues


def test_cli_parse_writes_jsonl(tmp_path: Path, seeds_dir: Path) -> None:
    result = CliRunner().invoke(main, ["parse", str(seeds_dir), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "parsed 131 entries" in result.output
    lines = (tmp_path / "entries.jsonl").read_text().splitlines()
    assert len(lines) == 131 and all(json.loads(x)["title"] for x in lines)


def test_cli_parse_exit_status_when_skipping(tmp_path: Path, fixtures: Path) -> None:
    d = fixtures / "parse"
    result = CliRunner().invoke(
        main, ["parse", str(d / "binary.md"), str(d / "crlf_bom.md"), "--out", str(tmp_path)]
    )
    assert result.exit_code == 3
    assert "binary" in result.output
    assert len((tmp_path / "entries.jsonl").read_text().splitlines()) == 1


def test_cli_parse_missing_path(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["parse", str(tmp_path / "nope"), "--out", str(tmp_path)])
    assert result.exit_code == 3
    assert "no such file" in result.output
