"""The Batch API commands through the entry point: in-process (CliRunner) and as separate
processes sharing the mock's persisted state (OUT/.mock-llm)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from pipeline.cli import main
from pipeline.records import Metadata, SectionTranslation
from pipeline.store.jsonl import read_jsonl
from pipeline.text.hangul import has_hangul
from tests.paths import FIXTURES

DIGEST = Path(sys.executable).parent / "digest"


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_enrich_batch_cycle_and_dry_run_through_the_cli(tmp_path: Path) -> None:
    out = str(tmp_path / "out")
    code, _ = _invoke("parse", str(FIXTURES / "enrich_digest.md"), "--out", out)
    assert code == 0
    code, text = _invoke("enrich", "--dry-run", "--llm", "mock", "--out", out)
    online, batch = (
        float(x) for x in re.search(r"\$([\d.]+) online, ~\$([\d.]+) with --batch", text).groups()
    )
    assert code == 0 and online > 0 and abs(batch - online / 2) < 1e-4
    code, text = _invoke("enrich", "--batch", "--no-llm", "--out", out)
    assert code == 2 and "--no-llm" in text

    code, text = _invoke("enrich", "--batch", "--llm", "mock", "--out", out)
    assert code == 0 and "submitted enrich batch batch_" in text and "4 requests" in text
    batch_id = re.search(r"(batch_\w+)", text).group(1)
    code, text = _invoke("enrich", "--batch", "--llm", "mock", "--out", out)
    assert code == 0 and "nothing new to submit" in text and batch_id in text
    # no status from the journal (it was "validating" at submission, stale by now)
    assert "validating" not in text and "digest batch status" in text
    code, text = _invoke("batch", "status", "--llm", "mock", "--out", out)
    assert code == 0 and "enrich" in text and batch_id in text and "completed" in text
    code, text = _invoke("batch", "collect", "--llm", "mock", "--out", out)
    assert code == 0 and f"collected enrich batch {batch_id}" in text and "4 results" in text
    metas = read_jsonl(tmp_path / "out" / "metadata.jsonl", Metadata)
    assert len(metas) == 4 and all(m.llm_status == "ok" for m in metas)
    code, text = _invoke("enrich", "--llm", "mock", "--out", out)
    assert code == 0 and "4 from cache, 0 requests" in text
    code, text = _invoke("batch", "collect", "--llm", "mock", "--out", out)
    assert code == 0 and "no new batches to collect" in text
    code, text = _invoke("batch", "status", "--llm", "mock", "--out", out)
    assert re.search(rf"enrich\s+{batch_id}\s+completed\s+4/0/4\s.*\bdone$", text.strip())


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(DIGEST), *args], capture_output=True, text=True, env=env, timeout=120)


def test_translate_batch_cycle_across_processes(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DIGEST_", "OPENAI_"))}
    env.update(
        DIGEST_LLM__MOCK_FAULTS="batch_steps=2",
        DIGEST_TRANSLATE__BATCH_TOKENS="120",
        DIGEST_PROGRESS="off",
        DIGEST_CACHE_DIR=str(tmp_path / "cache"),
    )
    out = str(tmp_path / "out")
    assert _run("parse", str(FIXTURES / "translate_digest.md"), "--out", out, env=env).returncode == 0
    sub = _run("translate", "--batch", "--llm", "mock", "--out", out, env=env)
    assert sub.returncode == 0, sub.stderr
    batch_id = re.search(r"submitted translate batch (batch_\w+)", sub.stdout).group(1)

    status = _run("batch", "status", "--llm", "mock", "--out", out, env=env)
    assert status.returncode == 0 and re.search(rf"translate\s+{batch_id}\s+in_progress", status.stdout)
    collected = _run("batch", "collect", "--llm", "mock", "--out", out, env=env)
    assert collected.returncode == 0, collected.stderr
    assert f"collected translate batch {batch_id}" in collected.stdout
    assert "translate: 8 sections: 8 translated, 0 flagged, 0 NOT translated (done by model 0, cache 7" in (
        collected.stdout
    )
    records = read_jsonl(tmp_path / "out" / "translations.jsonl", SectionTranslation)
    assert len(records) == 8 and not any(has_hangul(r.text) for r in records)

    follow = _run("translate", "--llm", "mock", "--out", out, env=env)
    assert follow.returncode == 0 and " 0 requests" in follow.stdout
