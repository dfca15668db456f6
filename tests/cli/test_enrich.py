"""``digest enrich`` through its entry point."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from click.testing import CliRunner

from pipeline.cli import main
from pipeline.settings import PROJECT_ROOT
from tests.paths import FIXTURES

FIXTURE = FIXTURES / "enrich_digest.md"
DIGEST = [sys.executable, "-m", "pipeline"]


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_cli_enrich_with_mock_then_cached_then_no_llm(tmp_path: Path) -> None:
    runner = CliRunner()
    out = str(tmp_path / "out")
    assert runner.invoke(main, ["parse", str(FIXTURE), "--out", out]).exit_code == 0
    res = runner.invoke(main, ["enrich", "--llm", "mock", "--out", out])
    assert res.exit_code == 0, res.output
    assert "enriched 4 entries" in res.output and "4 requests" in res.output
    metas = _lines(tmp_path / "out" / "metadata.jsonl")
    assert [m["llm_status"] for m in metas] == ["ok"] * 4
    res = runner.invoke(main, ["enrich", "--llm", "mock", "--out", out])
    assert res.exit_code == 0 and "4 from cache, 0 requests" in res.output
    res = runner.invoke(main, ["enrich", "--no-llm", "--model", "other-model", "--out", out])
    assert res.exit_code == 0 and "4 with deterministic fields only" in res.output
    metas = _lines(tmp_path / "out" / "metadata.jsonl")
    assert metas[0]["code_urls"] == ["https://github.com/itsnamgyu/block-transformer"]
    assert all(m["llm_status"] == "skipped" for m in metas)


def test_cli_schema_matches_the_published_file() -> None:
    res = CliRunner().invoke(main, ["enrich", "--schema"])
    assert res.exit_code == 0
    assert res.output == (PROJECT_ROOT / "docs" / "metadata.schema.json").read_text()


def test_cli_without_entries_is_a_clean_error(tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["enrich", "--llm", "mock", "--out", str(tmp_path)])
    assert res.exit_code == 3 and "digest parse" in res.output and "Traceback" not in res.output


def test_killed_run_resumes_without_redoing_work(tmp_path: Path) -> None:
    out = tmp_path / "out"
    env = {
        **os.environ,
        "DIGEST_LLM__MOCK_FAULTS": "latency_ms=400",
        "DIGEST_LLM__CONCURRENCY": "1",
        "DIGEST_CACHE_DIR": str(tmp_path / "cache"),
        "DIGEST_PROGRESS": "off",
    }
    subprocess.run(
        [*DIGEST, "parse", str(FIXTURE), "--out", str(out)],
        env=env,
        check=True,
        capture_output=True,
        cwd=PROJECT_ROOT,
    )
    journal = out / "cache" / "enrich.jsonl"
    proc = subprocess.Popen(
        [*DIGEST, "enrich", "--llm", "mock", "--out", str(out)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=PROJECT_ROOT,
    )
    try:
        deadline = time.monotonic() + 60
        while not (journal.exists() and journal.read_text().count("\n") >= 1):
            assert proc.poll() is None, proc.stderr.read().decode()  # type: ignore[union-attr]
            assert time.monotonic() < deadline
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    done = journal.read_text().count("\n")
    assert 1 <= done < 4 and not (out / "metadata.jsonl").exists()

    env["DIGEST_LLM__MOCK_FAULTS"] = ""
    res = subprocess.run(
        [*DIGEST, "enrich", "--llm", "mock", "--out", str(out)],
        env=env,
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
    )
    assert res.returncode == 0, res.stderr
    m = re.search(r"(\d+) from cache, (\d+) requests", res.stdout)
    assert m and int(m.group(1)) == done and int(m.group(2)) == 4 - done
    metas = _lines(out / "metadata.jsonl")
    assert len(metas) == 4 and len({x["entry_id"] for x in metas}) == 4
    assert len(journal.read_text().splitlines()) == 4  # nothing redone or duplicated
