"""Ctrl-C: one SIGINT cancels the requests in flight, keeps what finished in the journal,
prints an honest line with the command to resume, and exits 130 at once -- even with
30-second requests in flight (the first Ctrl-C used to wait for them).  A second Ctrl-C exits
immediately."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from pipeline.llm import make_llm
from pipeline.llm.mock import MockLLM
from pipeline.settings import load_settings
from pipeline.stages.parse import parse_stage
from pipeline.stages.translate import translate_stage
from pipeline.stages.translate.plan import plan_work
from pipeline.store.layout import OutDir
from tests.paths import FIXTURES, ROOT

FAST = 3  # the mock answers this many requests at once, then each takes 30 s


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DIGEST_", "OPENAI_"))}
    env.update(
        DIGEST_LLM__MOCK_FAULTS=f"latency_ms=30000,latency_after={FAST}",
        DIGEST_TRANSLATE__BATCH_TOKENS="60",  # about one section per request
        DIGEST_PROGRESS="plain",
    )
    return env


def _lines(path: Path) -> list[dict]:
    return (
        [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []
    )


def test_ctrl_c_exits_at_once_and_keeps_what_finished(tmp_path: Path) -> None:
    out = tmp_path / "out"
    settings = load_settings(
        None, out_dir=out, progress="off", llm={"provider": "mock"}, translate={"batch_tokens": 60}
    )
    parse_stage(settings, [FIXTURES / "translate_digest.md"])
    batches = plan_work(settings, write_glossary=False).batches
    finished = sum(len(b) for b in batches[:FAST])
    assert len(batches) > FAST + 1

    args = ["translate", "--llm", "mock", "--concurrency", "1", "--out", str(out)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline", *args],
        env=_env(),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    journal = OutDir(out).journal_path("translate")
    deadline = time.monotonic() + 120
    while len(_lines(journal)) < finished:
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    time.sleep(0.5)  # the next request is in flight now, for 30 s

    start = time.monotonic()
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=30)
    elapsed = time.monotonic() - start
    assert proc.returncode == 130, stderr
    assert elapsed < 2.0, f"exit took {elapsed:.1f}s"

    assert (
        f"translate interrupted: {finished} segments translated and journaled before the interrupt" in stderr
    )
    assert "the requests in flight were abandoned" in stderr
    assert f"to resume, run again: digest {' '.join(args)}" in stderr
    assert "Traceback" not in stderr + stdout
    # what finished is in the journal, whole lines only; the output was not half-written
    records = _lines(journal)
    assert len(records) == finished and all(isinstance(r["value"]["text"], str) for r in records)
    assert not OutDir(out).translations_path.exists()
    # the lock went with the process; a re-run sends only what was left
    mock = MockLLM()
    report = translate_stage(settings, llm=make_llm(settings, mock=mock))
    assert report.exit_code == 0 and report.untranslated == 0
    assert mock.stats["by_endpoint"]["chat"] == len(batches) - FAST


def test_a_second_ctrl_c_exits_at_once(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import os, signal, sys, time
        from pipeline.cli.output import ctrl_c

        with ctrl_c():
            try:
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(5)
            except KeyboardInterrupt:
                print("first: KeyboardInterrupt, cleaning up", flush=True)
                os.kill(os.getpid(), signal.SIGINT)  # the user presses Ctrl-C again
                time.sleep(30)
        print("not reached")
        """
    )
    start = time.monotonic()
    res = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=60
    )
    assert res.returncode == 130 and time.monotonic() - start < 30
    assert res.stdout == "first: KeyboardInterrupt, cleaning up\n"
    assert "interrupted again: exiting now" in res.stderr
