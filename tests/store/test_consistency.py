"""The cross-artifact check (``digest check``; also run by ``tests/conftest.py`` after every
test on the artifacts the test's commands wrote)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.records import IndexDoc
from pipeline.store.consistency import check_folder
from pipeline.store.docstate import read_state, write_docs
from pipeline.store.docstore import doc_hash
from pipeline.store.layout import OutDir
from tests.paths import FIXTURES

ENV = {"DIGEST_PROGRESS": "off", "DIGEST_INDEX__EMBEDDING": "endpoint"}
DIGEST = FIXTURES / "translate_digest.md"


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("consistent") / "out"
    result = CliRunner().invoke(main, ["run", "--llm", "mock", str(DIGEST), "--out", str(out)], env=ENV)
    assert result.exit_code == 0, result.output
    return out


def _copy(clean: Path, tmp_path: Path) -> Path:
    out = tmp_path / "out"
    shutil.copytree(clean, out)  # copytree keeps the files' times, so their order
    return out


def _touch_later(path: Path) -> None:
    """As if written now, after every other file of the folder."""
    os.utime(path)


def _rewrite(path: Path, change) -> None:  # noqa: ANN001
    """Change the records of a JSONL artifact or of the index documents' store, keeping its time."""
    mtime = path.stat().st_mtime_ns
    if path.suffix == ".sqlite":
        docs = [
            IndexDoc.model_validate(d)
            for d in change([d.model_dump() for d in OutDir(path.parent).load_index_docs()])
        ]
        _, meta = read_state(path)
        for p in path.parent.glob(path.name + "*"):
            p.unlink()
        write_docs(path, docs, [doc_hash(d) for d in docs], {}, meta)
    else:
        rows = change([json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()])
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    os.utime(path, ns=(mtime, mtime))


def test_a_run_leaves_a_consistent_folder(clean: Path) -> None:
    report = check_folder(clean)
    assert report.ok, report.summary()
    assert set(report.checked) == {
        "translations.jsonl <-> entries.jsonl",
        "metadata.jsonl <-> entries.jsonl",
        "index.sqlite <-> entries.jsonl",
        "index.sqlite <-> metadata.jsonl",
    }
    result = CliRunner().invoke(main, ["check", "--out", str(clean)])
    assert result.exit_code == 0 and "consistent (4 checks)" in result.output


@pytest.mark.inconsistent_ok
def test_translations_written_after_other_entries_disagree(clean: Path, tmp_path: Path) -> None:
    """The issue's case: a parse of other digests during a run, whose translate then wrote
    translations of the old entries after the new entries.jsonl."""
    out = _copy(clean, tmp_path)
    _rewrite(out / "entries.jsonl", lambda rows: rows[:1])
    _touch_later(out / "translations.jsonl")
    report = check_folder(out)
    assert any("translations of no current section" in p for p in report.problems), report.summary()
    result = CliRunner().invoke(main, ["check", "--out", str(out)])
    assert result.exit_code == 3 and "problem: translations.jsonl" in result.output


def test_a_later_parse_leaves_stale_artifacts_not_problems(clean: Path, tmp_path: Path) -> None:
    out = _copy(clean, tmp_path)
    _rewrite(out / "entries.jsonl", lambda rows: rows[:1])
    _touch_later(out / "entries.jsonl")
    report = check_folder(out)
    assert report.ok, report.summary()
    assert (
        "translations.jsonl is older than entries.jsonl: stale until `digest translate` runs" in report.notes
    )


@pytest.mark.inconsistent_ok
@pytest.mark.parametrize(
    ("artifact", "change", "expected"),
    [
        ("translations.jsonl", lambda r: r + r[:1], "translations.jsonl: duplicated"),
        (
            "translations.jsonl",
            lambda r: [{**r[0], "source_hash": "0" * 16}, *r[1:]],
            "translates other Korean text",
        ),
        ("metadata.jsonl", lambda r: [{**r[0], "votes": 12345}, *r[1:]], "arXiv id, date or votes differ"),
        ("metadata.jsonl", lambda r: r[1:], "entries without metadata"),
        (
            "index.sqlite",
            lambda r: [{**r[0], "korean": "다른 글"}, *r[1:]],
            "title or Korean text differs",
        ),
        ("index.sqlite", lambda r: [{**r[0], "topic": "video"}, *r[1:]], "topic 'video', metadata"),
        ("index.sqlite", lambda r: r[1:], "entries not indexed"),
    ],
)
def test_each_disagreement_is_named(
    clean: Path, tmp_path: Path, artifact: str, change, expected: str
) -> None:  # noqa: ANN001
    out = _copy(clean, tmp_path)
    _rewrite(out / artifact, change)
    report = check_folder(out)
    assert any(expected in p for p in report.problems), report.summary()


@pytest.mark.inconsistent_ok
def test_torn_lines_and_left_temp_files_are_problems(clean: Path, tmp_path: Path) -> None:
    out = _copy(clean, tmp_path)
    with open(out / "metadata.jsonl", "a", encoding="utf-8") as f:
        f.write('{"entry_id": "torn')
    (out / ".translations.jsonl.abc123.tmp").write_text("half")
    report = check_folder(out)
    n = len((out / "metadata.jsonl").read_text().splitlines())
    assert f"metadata.jsonl:{n}: not a valid Metadata (JSONDecodeError)" in report.problems
    assert any("temp file of an interrupted write left behind" in p for p in report.problems)


def test_only_what_was_written_is_held_to_the_rules(clean: Path, tmp_path: Path) -> None:
    """The test suite passes the artifacts a test's commands wrote: fixture files copied into
    a folder are not product output."""
    out = _copy(clean, tmp_path)
    _rewrite(out / "metadata.jsonl", lambda r: r[1:])
    assert not check_folder(out).ok
    assert check_folder(out, written={(out / "translations.jsonl").resolve()}).ok
    assert not check_folder(out, written={(out / "metadata.jsonl").resolve()}).ok
