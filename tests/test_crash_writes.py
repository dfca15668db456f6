"""A crash at every write point, then a re-run: the folder equals a clean run's (issue 17).

A clean ``digest run`` is recorded write by write (the write primitives' test seam); then,
for every distinct write point (each artifact's temp-file-then-rename, each journal's
append), a fresh run is SIGKILLed exactly there: after the temp file is written and before
it is renamed, or halfway through the journal line.  A re-run must leave the folder as the
clean run left it: the same records, the same newsletters, the same journals, the same
vectors, no temp file.

Also here: the one atomic-write primitive keeps a file whole when the writing fails halfway
(a primitive that wrote in place would leave half a file, and this test fails)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.store import jsonl
from pipeline.store.consistency import check_folder
from pipeline.store.layout import OutDir
from pipeline.store.reading import iter_jsonl_dicts
from tests.paths import FIXTURES, ROOT

DIGEST = FIXTURES / "translate_digest.md"
ARGS = ["run", "--llm", "mock", "--concurrency", "1", str(DIGEST)]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DIGEST_", "OPENAI_"))}
    env.update(DIGEST_INDEX__EMBEDDING="endpoint", DIGEST_PROGRESS="off", HF_HUB_OFFLINE="1")
    return env


def _child(mode: str, target: str, out: Path) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "tests.crash_child", mode, target, str(out), "--", *ARGS]
    return subprocess.run(cmd, env=_env(), cwd=ROOT, capture_output=True, text=True, timeout=300)


def _records(path: Path, drop: tuple[str, ...] = ()) -> list[dict]:
    return [{k: v for k, v in d.items() if k not in drop} for d in iter_jsonl_dicts(path)]


def _chroma_ids(out: Path) -> list[str]:
    con = sqlite3.connect(f"file:{out / 'chroma' / 'chroma.sqlite3'}?mode=ro", uri=True)
    try:
        return sorted(r[0] for r in con.execute("SELECT embedding_id FROM embeddings"))
    finally:
        con.close()


def snapshot(out: Path) -> dict:
    """What a run leaves, without where a result came from (the model or the journal)."""
    journals = {
        p.name: {d["key"]: d["value"] for d in iter_jsonl_dicts(p)}
        for p in sorted((out / "cache").glob("*.jsonl"))
    }
    return {
        "entries": _records(out / "entries.jsonl"),
        "parse_issues": _records(out / "parse_issues.jsonl"),
        "translations": _records(out / "translations.jsonl", drop=("origin",)),
        "metadata": _records(out / "metadata.jsonl"),
        "index_docs": [d.model_dump(mode="json") for d in OutDir(out).load_index_docs(missing_ok=True)],
        "glossary": (out / "glossary.tsv").read_text(encoding="utf-8"),
        "newsletter": {p.name: p.read_text(encoding="utf-8") for p in sorted((out / "newsletter").iterdir())},
        "journals": journals,
        "chroma": _chroma_ids(out),
    }


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, list[str]]:
    """The clean run's folder and its write points, in order."""
    base = tmp_path_factory.mktemp("crash-clean")
    log = base / "points.json"
    proc = _child("record", str(log), base / "out")
    assert proc.returncode == 0, proc.stderr[-2000:]
    points = json.loads(log.read_text(encoding="utf-8"))
    return snapshot(base / "out"), points


def _distinct(points: list[str]) -> list[str]:
    """Each write point once, a newsletter file standing for its kind (.md, .html, .xml)."""
    out: list[str] = []
    kinds: set[str] = set()
    for p in points:
        kind = p.rsplit(".", 1)[-1] if "newsletter/" in p else p
        if kind not in kinds:
            kinds.add(kind)
            out.append(p)
    return out


def test_every_artifact_and_journal_is_a_write_point(clean: tuple[dict, list[str]]) -> None:
    points = set(_distinct(clean[1]))
    for name in (
        "entries.jsonl",
        "parse_issues.jsonl",
        "glossary.tsv",
        "translations.jsonl",
        "metadata.jsonl",
    ):
        assert f"replace:{name}" in points
    # the index documents (index.sqlite) are written in one SQLite transaction: atomic by itself
    for journal in ("translate", "enrich", "newsletter"):
        assert f"append:cache/{journal}.jsonl" in points
    assert {p.rsplit(".", 1)[-1] for p in points if "newsletter/" in p} == {"md", "html", "xml"}


MAX_POINTS = 16  # the clean run passes 16 distinct write points (index: the query bridge's three)


@pytest.mark.parametrize("index", range(MAX_POINTS))
def test_sigkill_at_a_write_point_then_a_rerun_equals_a_clean_run(
    index: int, clean: tuple[dict, list[str]], tmp_path: Path
) -> None:
    """Killed at one write point; then one re-run.  The kill must land there (a write that
    skipped the temp file, or the hook, would not be killed there)."""
    reference, points = clean
    distinct = _distinct(points)
    assert len(distinct) <= MAX_POINTS, distinct  # more write points: raise MAX_POINTS
    if index >= len(distinct):
        pytest.skip(f"the run has {len(distinct)} write points")
    point = distinct[index]
    out = tmp_path / "out"
    killed = _child("kill", point, out)
    assert killed.returncode == -signal.SIGKILL, f"{point}: not reached\n{killed.stderr[-1500:]}"
    if point.startswith("replace:"):  # between the temp file and the rename
        assert list(out.rglob(".*.tmp")), f"{point}: no temp file at the kill"
    else:  # halfway through a journal line
        assert not (out / point.split(":", 1)[1]).read_bytes().endswith(b"\n"), point

    rerun = CliRunner().invoke(main, [*ARGS, "--out", str(out)], env=_env())
    assert rerun.exit_code == 0, f"{point}: {rerun.output[-2000:]}"
    assert snapshot(out) == reference, point
    report = check_folder(out)
    assert report.ok and len(report.checked) == 4 and not report.notes, report.summary()


# -- the one primitive ----------------------------------------------------------------------


def test_a_write_that_fails_halfway_leaves_the_old_file_whole(tmp_path: Path) -> None:
    """Kills the planted bug "writes made in place instead of temp file + rename"."""
    path = tmp_path / "records.jsonl"
    jsonl.write_jsonl_atomic(path, [{"n": i} for i in range(3)])
    old = path.read_bytes()

    def records():  # noqa: ANN202
        yield {"n": 10}
        yield {"n": 11}
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        jsonl.write_jsonl_atomic(path, records())
    assert path.read_bytes() == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["records.jsonl"]


def test_the_rename_comes_after_the_data_is_on_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """At the write hook (just before the rename) the target is still the old file and the new
    content sits, complete and fsynced, in a temp file beside it."""
    path = tmp_path / "page.md"
    jsonl.write_text_atomic(path, "old\n")
    seen: list[tuple[str, str, list[str]]] = []

    def hook(kind: str, target: Path) -> None:
        temps = [p.read_text() for p in tmp_path.glob(".page.md.*.tmp")]
        seen.append((kind, target.read_text(), temps))

    monkeypatch.setattr(jsonl, "write_hook", hook)
    jsonl.write_text_atomic(path, "new\n")
    assert seen == [("replace", "old\n", ["new\n"])]
    assert path.read_text() == "new\n" and not list(tmp_path.glob(".*.tmp"))
