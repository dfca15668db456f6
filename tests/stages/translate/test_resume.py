"""A translate run killed with SIGKILL resumes without redoing or duplicating work."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from pipeline.text.hangul import has_hangul
from tests.paths import ISOLATION_VARS

DIGEST = Path(sys.executable).parent / "digest"
N_SECTIONS = 8


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_") or k in ISOLATION_VARS}
    env.update(
        {
            "DIGEST_TRANSLATE__BATCH_TOKENS": "40",
            "DIGEST_LLM__CONCURRENCY": "1",
            "DIGEST_PROGRESS": "plain",
            **extra,
        }
    )
    return env


def _requests(output: str) -> int:
    m = re.search(r"(\d+) requests", output)
    assert m, output
    return int(m.group(1))


def test_killed_run_resumes_without_duplicates(tmp_path, fixtures):
    out = tmp_path / "out"
    subprocess.run(
        [str(DIGEST), "parse", str(fixtures / "translate_digest.md"), "--out", str(out)],
        check=True,
        capture_output=True,
        env=_env(),
    )
    # a full run elsewhere, to know how many requests the whole job takes
    full_out = tmp_path / "full"
    subprocess.run(
        [str(DIGEST), "parse", str(fixtures / "translate_digest.md"), "--out", str(full_out)],
        check=True,
        capture_output=True,
        env=_env(),
    )
    full = subprocess.run(
        [str(DIGEST), "translate", "--llm", "mock", "--out", str(full_out)],
        capture_output=True,
        text=True,
        env=_env(),
    )
    assert full.returncode == 0, full.stderr
    full_requests = _requests(full.stdout)
    assert full_requests >= 4

    journal = out / "cache" / "translate.jsonl"
    proc = subprocess.Popen(
        [str(DIGEST), "translate", "--llm", "mock", "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(DIGEST_LLM__MOCK_FAULTS="latency_ms=400"),
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if journal.exists() and len(journal.read_text(encoding="utf-8").splitlines()) >= 2:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the run finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert not (out / "translations.jsonl").exists()  # outputs are only written whole
    # a torn last line, as a kill mid-write would leave, is skipped
    with open(journal, "a", encoding="utf-8") as f:
        f.write('{"key": "torn", "val')

    again = subprocess.run(
        [str(DIGEST), "translate", "--llm", "mock", "--out", str(out)],
        capture_output=True,
        text=True,
        env=_env(),
    )
    assert again.returncode == 0, again.stderr
    assert 0 < _requests(again.stdout) < full_requests
    lines = (out / "translations.jsonl").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]  # valid JSONL
    keys = [(r["entry_id"], r["index"]) for r in records]
    assert len(keys) == N_SECTIONS == len(set(keys))
    assert all(r["text"] and not has_hangul(r["text"]) for r in records)
    assert {r["origin"] for r in records} >= {"cache", "model"}
    # the journal holds each segment once (no work was redone)
    keys_in_journal = []
    for line in journal.read_text(encoding="utf-8").splitlines():
        try:
            keys_in_journal.append(json.loads(line)["key"])
        except (json.JSONDecodeError, KeyError):
            continue
    assert len(keys_in_journal) == len(set(keys_in_journal))
