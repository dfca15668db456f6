"""The reader registry: a new digest layout is one module with a Reader plus one line in
``readers.READERS``; each file is read by the reader that scores it highest."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.records import Entry, Section
from pipeline.stages.parse import parse_files, readers
from pipeline.stages.parse.readers import ReadResult, pick_reader
from pipeline.stages.parse.readers.hf_daily_ko import HfDailyKoReader
from tests.paths import FIXTURES


class OnePaperPerLine:
    """A made-up layout: "arXiv-id<TAB>title<TAB>summary" lines under a "#papers" header."""

    name = "tsv"

    def can_read(self, text: str) -> float:
        return 1.0 if text.startswith("#papers") else 0.0

    def read(self, text: str, file: str) -> ReadResult:
        out = ReadResult()
        for n, line in enumerate(text.splitlines()[1:], 2):
            pid, title, summary = line.split("\t")
            out.entries.append(
                Entry(
                    id=pid,
                    arxiv_id=pid,
                    title=title,
                    sections=[Section(text=summary, line=n)],
                    source_file=file,
                    source_line=n,
                )
            )
        return out


def test_the_hf_reader_is_registered_and_reads_anything_else_as_a_fallback() -> None:
    assert any(isinstance(r, HfDailyKoReader) for r in readers.READERS)
    digest = (FIXTURES / "translate_digest.md").read_text(encoding="utf-8")
    assert isinstance(pick_reader(digest), HfDailyKoReader)
    assert isinstance(pick_reader("no headings at all"), HfDailyKoReader)


def test_a_new_layout_is_one_registration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(readers, "READERS", [*readers.READERS, OnePaperPerLine()])
    (tmp_path / "a.txt").write_text("#papers\n2401.00001\tA title\t요약입니다.\n", encoding="utf-8")
    (tmp_path / "b.md").write_text((FIXTURES / "translate_digest.md").read_text(encoding="utf-8"))
    report = parse_files([tmp_path])
    by_id = {e.id: e for e in report.entries}
    assert by_id["2401.00001"].title == "A title" and by_id["2401.00001"].sections[0].text == "요약입니다."
    assert "2410.10210" in by_id  # the Korean digest still goes to its own reader
