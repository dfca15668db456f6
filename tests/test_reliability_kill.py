"""SIGKILL at random points of translate, enrich and index, then a re-run: the files are
valid and the results equal an uninterrupted run's.  Two runs on one folder: the second
is refused (LockError, exit 5) and nothing is corrupted.

Each run is a real ``digest run`` subprocess against the in-process mock LLM with added
latency, so there is time to kill it inside a stage."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from pipeline.store.consistency import check_folder
from pipeline.store.layout import OutDir
from tests.paths import ISOLATION_VARS, ROOT

SEEDS = ROOT / "seeds"
CORPUS = [SEEDS / "001_ba014ffa8b1fac34.txt", SEEDS / "003_b7604eca8e731035.txt"]
DIGEST = [sys.executable, "-m", "pipeline"]


def _env(latency_ms: int = 60, embedding: str = "endpoint") -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("DIGEST_", "OPENAI_")) or k in ISOLATION_VARS
    }
    env.update(
        DIGEST_LLM__MOCK_FAULTS=f"latency_ms={latency_ms}",
        DIGEST_INDEX__EMBEDDING=embedding,
        DIGEST_INDEX__CHUNK_TOKENS="48",  # more chunks: more index batches to kill between
        DIGEST_PROGRESS="plain",
        DIGEST_TRANSLATE__MEMORY_FILES="[]",  # translate through the model: something to kill
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
    )
    return env


def _args(out: Path) -> list[str]:
    return [*DIGEST, "run", "--llm", "mock", "--concurrency", "2", *map(str, CORPUS), "--out", str(out)]


def _run(out: Path, **env_kw) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _args(out), env=_env(**env_kw), capture_output=True, text=True, timeout=300, cwd=ROOT
    )


class _Proc:
    """A ``digest run`` child whose stderr is collected line by line."""

    def __init__(self, out: Path, **env_kw) -> None:
        self.p = subprocess.Popen(
            _args(out),
            env=_env(**env_kw),
            cwd=ROOT,
            stderr=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._t = threading.Thread(target=self._read, daemon=True)
        self._t.start()

    def _read(self) -> None:
        assert self.p.stderr is not None
        for line in self.p.stderr:
            self.lines.append(line)

    def wait_for(self, cond: Callable[[], bool], timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while not cond():
            if self.p.poll() is not None:
                raise AssertionError("run ended before the kill point:\n" + "".join(self.lines[-20:]))
            if time.monotonic() > deadline:
                raise AssertionError("kill point not reached:\n" + "".join(self.lines[-20:]))
            time.sleep(0.005)

    def saw(self, text: str) -> bool:
        return any(text in line for line in list(self.lines))

    def kill(self) -> int:
        self.p.send_signal(signal.SIGKILL)
        rc = self.p.wait(timeout=30)
        self._t.join(timeout=10)
        return rc


def _lines(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def _jsonl(path: Path) -> list[dict]:
    """Every line must parse: outputs are written atomically."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _chroma_rows(out: Path) -> list[tuple]:
    db = out / "chroma" / "chroma.sqlite3"
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = con.execute(
            "SELECT e.embedding_id, m.key, m.string_value, m.int_value FROM embeddings e "
            "JOIN embedding_metadata m ON m.id = e.id ORDER BY e.embedding_id, m.key"
        ).fetchall()
    finally:
        con.close()
    return rows


def _chroma_count(out: Path) -> int:
    db = out / "chroma" / "chroma.sqlite3"
    if not db.exists():
        return 0
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return con.execute("SELECT count(*) FROM embeddings").fetchone()[0]
    except sqlite3.Error:
        return 0
    finally:
        con.close()


def snapshot(out: Path) -> dict:
    """What a run produced, without timestamps or where a result came from (model vs cache)."""
    translations = _jsonl(out / "translations.jsonl")
    for t in translations:
        t.pop("origin")
    snap = {
        "entries": _jsonl(out / "entries.jsonl"),
        "translations": translations,
        "metadata": _jsonl(out / "metadata.jsonl"),
        "index_docs": [d.model_dump(mode="json") for d in OutDir(out).load_index_docs()],
        "chroma": _chroma_rows(out),
        "newsletter": {p.name: p.read_text(encoding="utf-8") for p in sorted((out / "newsletter").iterdir())},
    }
    return snap


def _check_valid(out: Path, snap: dict) -> None:
    keys = [(t["entry_id"], t["index"]) for t in snap["translations"]]
    assert len(keys) == len(set(keys)), "duplicated translations"
    n_sections = sum(len(e["sections"]) for e in snap["entries"])
    assert len(keys) == n_sections
    assert all(not t["flags"] for t in snap["translations"])
    ids = [m["entry_id"] for m in snap["metadata"]]
    assert len(ids) == len(set(ids)) == len(snap["entries"])
    assert all(m["llm_status"] == "ok" for m in snap["metadata"])
    chunk_ids = {r[0] for r in snap["chroma"]}
    assert chunk_ids == {c for d in snap["index_docs"] for c in d["chunks"]}
    assert not list(out.glob("**/.*.tmp")), "temp files left behind"
    report = check_folder(out)  # entries <-> translations <-> metadata <-> index documents
    assert report.ok and len(report.checked) == 4, report.summary()


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("reference")
    proc = _run(out)
    assert proc.returncode == 0, proc.stderr[-2000:]
    snap = snapshot(out)
    _check_valid(out, snap)
    return snap


# each kill point: (description, condition on the run, proof that the kill landed inside the stage)
def _in_translate(out: Path, proc: _Proc) -> bool:
    return _lines(out / "cache" / "translate.jsonl") >= 1


def _in_enrich(out: Path, proc: _Proc) -> bool:
    return _lines(out / "cache" / "enrich.jsonl") >= 3


def _in_index(out: Path, proc: _Proc) -> bool:
    return _chroma_count(out) > 0  # some chunks stored, the rest still to add


KILL_POINTS = {
    "translate": (_in_translate, lambda out, total: not (out / "translations.jsonl").exists()),
    "enrich": (_in_enrich, lambda out, total: not (out / "metadata.jsonl").exists()),
    "index": (
        _in_index,
        lambda out, total: not OutDir(out).index_db_path.exists() and 0 < _chroma_count(out) < total,
    ),
}


def test_sigkill_in_each_stage_then_rerun_gives_the_same_results(tmp_path: Path, reference: dict):
    """One output folder: kill inside translate, re-run and kill inside enrich, re-run and
    kill inside index (some chunks stored, not all), then re-run to the end.  Kill delays
    are random (seeded)."""
    total = sum(len(d["chunks"]) for d in reference["index_docs"])
    rng = random.Random(7)
    out = tmp_path / "out"
    landed = []
    for stage, (reached, inside) in KILL_POINTS.items():
        proc = _Proc(out)
        proc.wait_for(lambda reached=reached, proc=proc: reached(out, proc))
        if stage != "index":  # the index kill point is a narrow window already
            time.sleep(rng.uniform(0.0, 0.25))
        rc = proc.kill()
        assert rc == -signal.SIGKILL, f"the run ended before the kill ({stage}):\n" + "".join(
            proc.lines[-10:]
        )
        landed.append((stage, inside(out, total)))
    # every kill landed before its stage wrote its output (index: sometimes mid-batch)
    assert all(ok for _, ok in landed), landed

    final = _run(out)
    assert final.returncode == 0, final.stderr[-2000:]
    snap = snapshot(out)
    _check_valid(out, snap)
    assert snap == reference

    again = _run(out)  # a further re-run: nothing left to do, no request
    assert again.returncode == 0
    assert "llm         0 requests" in again.stdout
    assert snapshot(out) == reference


def test_second_run_on_the_same_folder_is_refused(tmp_path: Path, reference: dict):
    out = tmp_path / "out"
    first = _Proc(out, latency_ms=150)
    first.wait_for(lambda: _lines(out / "cache" / "translate.jsonl") >= 1)
    lock_pid = (out / ".digest.lock").read_text().strip()
    assert lock_pid == str(first.p.pid)

    for args in (_args(out), [*DIGEST, "translate", "--llm", "mock", "--out", str(out)]):
        second = subprocess.run(args, env=_env(), capture_output=True, text=True, timeout=120, cwd=ROOT)
        assert second.returncode == 5, second.stderr[-1000:]
        assert f"{out} is in use by another digest run (pid {first.p.pid})" in second.stderr
        assert "Traceback" not in second.stderr
    assert first.p.poll() is None, "the first run must not be disturbed"
    assert first.p.wait(timeout=300) == 0
    first._t.join(timeout=10)
    snap = snapshot(out)
    _check_valid(out, snap)
    assert snap == reference
