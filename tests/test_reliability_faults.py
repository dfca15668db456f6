"""With 30% of LLM requests failing (429, 500, timeouts, malformed JSON, truncated output),
``digest run --llm mock`` completes: every entry translated and enriched, nothing
duplicated, results equal to a fault-free run, and the summary counts the retries."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.llm.mock import get_default_mock
from pipeline.settings import load_settings
from pipeline.store.layout import OutDir
from tests.paths import ROOT

CORPUS = [ROOT / "seeds" / "001_ba014ffa8b1fac34.txt", ROOT / "seeds" / "003_b7604eca8e731035.txt"]
FAULTS = "rate=0.3,kinds=429+500+timeout+malformed+truncate,seed={seed}"


def _run(out: Path, faults: str = "") -> tuple[int, str]:
    env = {
        "DIGEST_LLM__MOCK_FAULTS": faults,
        "DIGEST_INDEX__EMBEDDING": "endpoint",  # the mock's embeddings: no model to load
        "DIGEST_PROGRESS": "off",
        "DIGEST_TRANSLATE__MEMORY_FILES": "[]",  # the model path: not the shipped memory
    }
    args = ["run", "--llm", "mock", *map(str, CORPUS), "--out", str(out)]
    result = CliRunner().invoke(main, args, env=env)
    return result.exit_code, result.output


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _results(out: Path) -> dict:
    translations = {(t["entry_id"], t["index"]): t for t in _jsonl(out / "translations.jsonl")}
    return {
        "translations": {k: (t["text"], t["flags"]) for k, t in translations.items()},
        "metadata": {m["entry_id"]: m for m in _jsonl(out / "metadata.jsonl")},
        "index_docs": [d.model_dump(mode="json") for d in OutDir(out).load_index_docs()],
        "newsletter": {p.name: p.read_bytes() for p in sorted((out / "newsletter").iterdir())},
    }


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("clean")
    code, output = _run(out)
    assert code == 0, output
    return _results(out)


@pytest.mark.parametrize("seed", [1, 5])
def test_run_completes_under_30_percent_faults(tmp_path: Path, clean_run: dict, seed: int):
    out = tmp_path / "out"
    faults = FAULTS.format(seed=seed)
    code, output = _run(out, faults)
    assert code == 0, output

    # the faults really happened, of every kind
    mock = get_default_mock(load_settings(out_dir=out, llm={"provider": "mock", "mock_faults": faults}))
    injected = mock.stats["faults"]
    assert len(set(injected) & {"429", "500", "timeout", "malformed", "truncate"}) >= 4, injected
    chat = mock.stats["by_endpoint"]["chat"]
    assert 0.15 < sum(injected.values()) / chat < 0.45  # 30% of a few dozen requests

    entries = _jsonl(out / "entries.jsonl")
    translations = _jsonl(out / "translations.jsonl")
    keys = [(t["entry_id"], t["index"]) for t in translations]
    assert len(keys) == len(set(keys)) == sum(len(e["sections"]) for e in entries)  # nothing duplicated
    assert all(t["origin"] == "model" and not t["flags"] for t in translations)
    assert not any(re.search(r"[\uac00-\ud7a3]", t["text"]) for t in translations)
    metadata = _jsonl(out / "metadata.jsonl")
    assert sorted(m["entry_id"] for m in metadata) == sorted(e["id"] for e in entries)
    assert all(m["llm_status"] == "ok" and m["tldr"] for m in metadata)
    # the journal holds each result once
    journal = [d["key"] for d in _jsonl(out / "cache" / "translate.jsonl")]
    assert len(journal) == len(set(journal))

    # the same results as without faults
    assert _results(out) == clean_run

    # the summary counts the retries: every 429/500/timeout was retried by the SDK, and
    # every malformed or truncated structured reply was re-asked
    m = re.search(r"(\d+) retries \(429/5xx/timeouts\), (\d+) invalid replies", output)
    assert m, output
    assert int(m.group(1)) == injected["429"] + injected["500"] + injected["timeout"]
    assert 0 < int(m.group(2)) <= injected["malformed"] + injected["truncate"]
    tm = re.search(r"\d+ requests \((\d+) HTTP retries", output)
    assert tm and int(tm.group(1)) > 0

    # a re-run makes no request and changes nothing
    code, output = _run(out, faults)
    assert code == 0
    assert "llm         0 requests" in output
    assert _results(out) == clean_run


def test_persistent_failure_is_reported_and_resumable(tmp_path: Path):
    """Every request fails: the run stops after the failures in a row with a clear error
    (exit 4), says that nothing was saved, what is left and how to resume, no traceback; the
    stages after it do not run; a later healthy run completes from where it was."""
    out = tmp_path / "out"
    code, output = _run(out, "rate=1.0,kinds=500,retry_after_ms=1")
    assert code == 4, output
    assert "error: translate stopped: 4 requests in a row failed (last: " in output
    assert "returned HTTP 500" in output and "-- nothing was saved" in output
    assert "stopped     the run stopped after translate failed; not run: enrich, index, newsletter" in output
    resume = "to resume, run again: digest run --llm mock " + " ".join(map(str, CORPUS))
    assert "left: translate: 143 sections not translated; not run: enrich, index, newsletter -- " in output
    assert resume in output
    assert "Traceback" not in output
    assert not (out / "metadata.jsonl").exists()
    translations = _jsonl(out / "translations.jsonl")  # every section, in Korean, with why
    assert len(translations) == 143 and all(t["flags"][0].startswith("untranslated: ") for t in translations)
    code, output = _run(out)
    assert code == 0, output
    assert len(_jsonl(out / "metadata.jsonl")) == len(_jsonl(out / "entries.jsonl"))


def test_enrich_survives_two_bad_replies_in_a_row(tmp_path: Path):
    """Truncated, then malformed: the first conversation fails; a fresh one is asked."""
    from pipeline.llm import make_llm
    from pipeline.llm.mock import MockLLM
    from pipeline.stages.enrich import enrich_stage
    from pipeline.stages.parse import parse_stage

    settings = load_settings(out_dir=tmp_path, llm={"provider": "mock"}, progress="off")
    parse_stage(settings, [CORPUS[1]])
    entries = _jsonl(tmp_path / "entries.jsonl")
    mock = MockLLM()
    mock.script(["truncate", "malformed"])
    llm = make_llm(settings, mock=mock)
    report = enrich_stage(
        settings.model_copy(update={"llm": settings.llm.model_copy(update={"concurrency": 1})}), llm=llm
    )
    assert report.llm_failed == 0 and report.llm_ok == len(entries)
    assert report.requests == len(entries) + 2
    assert llm.meter.snapshot()["invalid_replies"] == 2
    assert all(m["llm_status"] == "ok" for m in _jsonl(tmp_path / "metadata.jsonl"))


def test_a_model_that_cannot_do_the_task_does_not_stop_the_run(tmp_path: Path):
    """The endpoint answers, but every reply repeats the prompt (a tiny model, a server without
    a chat template): translate fails as a whole, yet the run goes on -- enrich, index and the
    newsletter run on what there is, every section kept in Korean with why, exit 4 with a
    summary saying so and how to resume.  (An endpoint that never answers stops the run: see
    the test above.)"""
    out = tmp_path / "out"
    code, output = _run(out, "adversarial=echo")
    assert code == 4, output
    assert "error:" not in output and "the run stopped" not in output
    went_on = re.search(
        r"^went on +translate (stopped|failed): .*; the endpoint answered but no reply was usable",
        output,
        re.M,
    )
    assert went_on, output
    for stage in ("enrich", "index", "newsletter"):
        assert re.search(rf"^{stage} +", output, re.M), output
    assert "Traceback" not in output
    entries = _jsonl(out / "entries.jsonl")
    translations = _jsonl(out / "translations.jsonl")
    assert len(translations) == 143 and all(t["flags"][0].startswith("untranslated: ") for t in translations)
    assert len(_jsonl(out / "metadata.jsonl")) == len(entries)
    assert len(OutDir(out).load_index_docs()) == len(entries)
    assert list((out / "newsletter").glob("*.html"))
    assert "left: translate: 143 sections not translated" in output
