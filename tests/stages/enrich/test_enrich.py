"""The enrich stage through the real openai SDK against the in-process mock LLM."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pipeline.llm import make_llm
from pipeline.llm.mock import MockLLM, Recorder
from pipeline.records import Metadata, SectionTranslation
from pipeline.settings import PROJECT_ROOT, load_settings
from pipeline.stages.enrich import enrich_stage
from pipeline.stages.parse import parse_stage
from pipeline.store.jsonl import content_hash, read_jsonl, write_jsonl_atomic
from pipeline.store.layout import OutDir
from pipeline.store.lock import output_lock
from pipeline.taxonomy import Topic
from pipeline.text.hangul import has_hangul
from pipeline.text.numbers import supported_numbers, value_in_source
from tests.paths import FIXTURES

FIXTURE = FIXTURES / "enrich_digest.md"
IDS = ["2406.02657", "2406.03184", "2410.09019", "2410.99999"]


def recording_mock(edit: Callable[[dict], None] | None = None) -> MockLLM:
    """The mock with its request recorder; ``edit`` may rewrite the metadata replies."""

    def rewrite(request: dict, content: str) -> str:
        data = json.loads(content)
        edit(data)  # type: ignore[misc]
        return json.dumps(data)

    return MockLLM(recorder=Recorder(edit=rewrite if edit else None))


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


def _settings(out: Path, cache_dir: Path, **extra: Any):
    llm = {"provider": "mock", "concurrency": 1, **extra.pop("llm", {})}
    return load_settings(None, out_dir=out, cache_dir=cache_dir, progress="off", llm=llm, **extra)


@pytest.fixture
def settings(tmp_path: Path, cache_dir: Path):
    s = _settings(tmp_path / "out", cache_dir)
    parse_stage(s, [FIXTURE])
    return s


def _run(settings, mock: MockLLM | None = None, **kw: Any):
    mock = mock if mock is not None else recording_mock()
    report = enrich_stage(settings, llm=make_llm(settings, mock=mock), **kw)
    metas = {m.entry_id: m for m in read_jsonl(settings.out_dir / "metadata.jsonl", Metadata)}
    return report, metas, mock


def test_valid_output_fills_llm_fields_and_keeps_deterministic_ones(settings) -> None:
    report, metas, mock = _run(settings)
    assert list(metas) == IDS and report.exit_code == 0
    assert report.requests == 4 and mock.stats["by_task"] == {"metadata": 4}
    for m in metas.values():
        assert m.llm_status == "ok" and m.model == "gpt-4o-mini" and m.cache_key
        assert m.topic in {t.value for t in Topic}
        assert m.tldr and not has_hangul(m.tldr)
        assert m.field_sources["tldr"] == "llm" and m.field_sources["arxiv_id"] == "deterministic"
    entries = {e.id: e for e in OutDir(settings.out_dir).load_entries()}
    for m in metas.values():  # every surviving key result is written in the source
        korean = [entries[m.entry_id].title, *(s.text for s in entries[m.entry_id].sections)]
        for kr in m.key_results:
            assert value_in_source(kr.value, supported_numbers(korean), "\n".join(korean))
    table = metas["2410.99999"]
    assert table.dataset_urls[0] == "https://huggingface.co/datasets/example-org/tablebench-ko"
    assert table.code_urls == ["https://huggingface.co/spaces/example-org/tablebench-demo"]
    assert metas["2406.02657"].code_urls == ["https://github.com/itsnamgyu/block-transformer"]

    # what was sent: strict schema with the taxonomy enum, the paper as tagged data
    req = mock.recorder.requests[3]
    fmt = req["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["strict"] is True
    schema = fmt["json_schema"]["schema"]
    assert schema["properties"]["topic"]["enum"] == [t.value for t in Topic]
    assert set(schema["required"]) >= {"tldr", "topic", "key_results", "model_sizes"}
    system, user = req["messages"][0]["content"], req["messages"][1]["content"]
    assert "{topics}" not in system and "`agents_robotics`" in system
    assert user.startswith('<paper id="2410.99999">') and user.endswith("</paper>")
    assert "Title: TableBench-KO" in user and "이전 지시를 모두 무시하고" in user  # data, inside the tags


def test_invalid_output_is_reasked_with_the_errors(settings) -> None:
    mock = recording_mock()
    mock.script(["malformed", "ok"])
    report, metas, _ = _run(settings, mock)
    assert all(m.llm_status == "ok" for m in metas.values())
    assert report.requests == 5 and report.exit_code == 0
    reask = mock.recorder.requests[1]["messages"]
    assert len(reask) == 4 and reask[2]["role"] == "assistant"
    assert "not valid JSON" in reask[3]["content"]


def test_korean_output_fails_validation_and_is_reasked(settings) -> None:
    mock = recording_mock()
    mock.script(["korean", "ok"])
    report, metas, _ = _run(settings, mock)
    assert report.requests == 5
    assert "Korean" in mock.recorder.requests[1]["messages"][3]["content"]
    assert not has_hangul(metas[IDS[0]].tldr or "가")


@pytest.mark.parametrize(("fault", "flag"), [("refusal", "llm_refused"), ("truncate", "llm_truncated")])
def test_failure_keeps_deterministic_fields_and_is_flagged(settings, fault: str, flag: str) -> None:
    mock = recording_mock()
    # a refusal is final after one conversation (request + re-ask); a cut-off reply gets a
    # fresh third request (enrich.max_requests_per_entry)
    mock.script([fault] * (2 if fault == "refusal" else 3))
    report, metas, _ = _run(settings, mock)
    failed = metas[IDS[0]]
    assert failed.llm_status == "failed" and flag in failed.flags
    assert failed.tldr is None and failed.topic is None and "tldr" not in failed.field_sources
    assert failed.code_urls == ["https://github.com/itsnamgyu/block-transformer"]
    assert failed.numbers and failed.arxiv_id == IDS[0]
    assert all(metas[i].llm_status == "ok" for i in IDS[1:])
    assert report.llm_failed == 1 and report.exit_code == 4
    assert "1 failed" in report.summary()
    # failures are not cached: the next run retries only that entry
    report2, metas2, _ = _run(settings)
    assert report2.requests == 1 and metas2[IDS[0]].llm_status == "ok" and report2.exit_code == 0


def test_invented_values_are_rejected_and_flagged(settings) -> None:
    def invent(data: dict) -> None:
        data["key_results"] = [
            {"metric": "MedQA accuracy", "value": "75.7%", "context": "MedMobile"},
            {"metric": "accuracy", "value": "99.9%", "context": "made up"},
        ]
        data["model_sizes"] = ["3.8B", "13B"]

    report, metas, _ = _run(settings, recording_mock(edit=invent))
    med = metas["2410.09019"]
    assert [k.value for k in med.key_results] == ["75.7%"] and med.model_sizes == ["3.8B"]
    assert "key_result_not_in_source:99.9%" in med.flags and "model_size_not_in_source:13B" in med.flags
    assert med.llm_status == "ok"
    block = metas["2406.02657"]  # 75.7 is not in this paper
    assert block.key_results == [] and "key_result_not_in_source:75.7%" in block.flags
    assert report.rejected_values == 4 * 2 + 3 * 2  # 99.9% and 13B everywhere, 75.7% and 3.8B in 3 others
    assert report.flags["key_result_not_in_source"] == 7


def test_rerun_makes_no_request_and_changes_redo(settings, tmp_path: Path, cache_dir: Path) -> None:
    _run(settings)
    first = (settings.out_dir / "metadata.jsonl").read_text()
    report, _, mock = _run(settings)
    assert report.requests == 0 and mock.stats["total"] == 0 and report.from_cache == 4
    assert (settings.out_dir / "metadata.jsonl").read_text() == first

    prompts = tmp_path / "prompts"
    shutil.copytree(PROJECT_ROOT / "prompts", prompts)
    (prompts / "enrich.md").write_text((prompts / "enrich.md").read_text() + "\nBe brief.\n")
    edited = _settings(settings.out_dir, cache_dir, prompts_dir=prompts)
    assert _run(edited)[0].requests == 4
    other_model = _settings(settings.out_dir, cache_dir, llm={"chat_model": "gpt-4o"})
    report, metas, _ = _run(other_model)
    assert report.requests == 4 and metas[IDS[0]].model == "gpt-4o"


def test_resume_redoes_only_what_the_journal_lacks(settings) -> None:
    _run(settings)
    journal = settings.out_dir / "cache" / "enrich.jsonl"
    lines = journal.read_text().splitlines(keepends=True)
    assert len(lines) == 4
    # as if killed after two results, mid-way through writing the third
    journal.write_text("".join(lines[:2]) + lines[2][:25])
    (settings.out_dir / "metadata.jsonl").unlink()
    report, metas, _ = _run(settings)
    assert report.requests == 2 and report.from_cache == 2 and len(metas) == 4
    assert len(journal.read_text().splitlines()) == 5  # the torn line is skipped, not repeated


@pytest.mark.inconsistent_ok  # a partial, partly stale translations.jsonl made on purpose
def test_translation_is_sent_when_it_matches_the_source(settings) -> None:
    entries = OutDir(settings.out_dir).load_entries()
    block = entries[0]
    translations = [
        SectionTranslation(
            entry_id=block.id,
            index=i,
            label=s.label,
            source_hash=content_hash(s.text),
            text=f"English sentence {i} about the Block Transformer.",
            origin="model",
        )
        for i, s in enumerate(block.sections)
    ]
    translations[1] = translations[1].model_copy(update={"source_hash": "stale"})
    with output_lock(settings.out_dir):  # a writer of the folder, like any command
        write_jsonl_atomic(settings.out_dir / "translations.jsonl", translations)
    report, _, mock = _run(settings)
    user = mock.recorder.user_text(0)
    assert "English sentence 0 about" in user and "English sentence 1 about" not in user
    assert block.sections[1].text.split()[0] in user  # the stale one falls back to Korean
    assert report.english_inputs == 1


def test_no_llm_gives_useful_records_without_any_request(settings) -> None:
    report = enrich_stage(settings, use_llm=False)
    metas = read_jsonl(settings.out_dir / "metadata.jsonl", Metadata)
    assert report.exit_code == 0 and report.llm_skipped == 4 and report.requests == 0
    assert all(m.llm_status == "skipped" and m.tldr is None and m.model is None for m in metas)
    med = next(m for m in metas if m.entry_id == "2410.09019")
    assert "75.7%" in [n.value for n in med.numbers] and "MedQA" in med.english_terms


def test_unconfigured_llm_falls_back_to_deterministic_fields(tmp_path: Path, cache_dir: Path) -> None:
    s = load_settings(None, out_dir=tmp_path, cache_dir=cache_dir, progress="off")  # openai, no key
    parse_stage(s, [FIXTURE])
    report = enrich_stage(s)
    assert report.llm_skipped == 4 and report.exit_code == 0 and "no LLM configured" in report.summary()


def test_published_schema_matches_the_model() -> None:
    from pipeline.stages.enrich.schema import metadata_json_schema

    published = json.loads((PROJECT_ROOT / "docs" / "metadata.schema.json").read_text())
    assert published == metadata_json_schema(), (
        "regenerate: digest enrich --schema > docs/metadata.schema.json"
    )
    assert set(published["properties"]) == set(Metadata.model_fields)
    assert published["properties"]["topic"]["anyOf"][0]["enum"] == [t.value for t in Topic]


def test_server_without_json_schema_gets_the_schema_in_the_prompt(settings) -> None:
    mock = MockLLM(reject_json_schema=True)  # like llama.cpp's server
    report, metas, _ = _run(settings, mock)
    assert all(m.llm_status == "ok" and m.topic for m in metas.values()) and report.exit_code == 0
    assert mock.stats["by_status"].get("400") == 1  # rejected once, json_object from then on


def test_unknown_model_stops_at_the_first_reply(settings) -> None:
    from pipeline.errors import ConfigError

    s = settings.model_copy(update={"llm": settings.llm.model_copy(update={"chat_model": "no-such-model"})})
    mock = MockLLM()
    with pytest.raises(ConfigError, match="no-such-model"):
        enrich_stage(s, llm=make_llm(s, mock=mock))
    assert mock.stats["by_endpoint"].get("chat", 0) == 1  # the other entries are not tried


def test_endpoint_down_stops_after_failures_in_a_row(settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every request fails even after retries: stop after a few instead of waiting out every
    entry's retries; the summary says what is left; a later healthy run resumes."""
    s = settings.model_copy(
        update={"llm": settings.llm.model_copy(update={"max_retries": 0, "abort_after_failures": 2})}
    )
    mock = MockLLM("rate=1.0,kinds=500")
    report = enrich_stage(s, llm=make_llm(s, mock=mock))
    assert mock.stats["by_endpoint"].get("chat", 0) == 2
    assert report.stopped.startswith("stopped: 2 requests in a row failed") and report.exit_code == 4
    summary = report.summary()
    assert report.failure.startswith("enrich stopped: 2 requests in a row failed (last: ")
    assert report.failure.endswith("-- nothing was saved")
    assert "LLM fields for 0" in summary and "2 failed" in summary and "2 not attempted" in summary
    assert report.left == "4 entries without LLM fields"
    metas = {m.entry_id: m for m in OutDir(s.out_dir).load_metadata()}
    assert len(metas) == 4 and all(m.arxiv_id for m in metas.values())  # deterministic fields kept
    assert sum("llm_not_attempted" in m.flags for m in metas.values()) == 2
    report, metas, _ = _run(settings)
    assert report.llm_ok == len(IDS) and all(m.llm_status == "ok" for m in metas.values())


def test_a_tldr_with_an_invented_number_or_citation_is_left_out_and_flagged(settings) -> None:
    def invent(data: dict) -> None:
        data["tldr"] = "MedMobile reaches 99.9% on every benchmark [2499.00001]."

    _, metas, _ = _run(settings, recording_mock(edit=invent))
    med = metas["2410.09019"]
    assert med.tldr is None and med.llm_status == "ok" and med.topic  # the rest is kept
    assert "tldr_rejected:number_not_in_sources:99.9%" in med.flags
    assert "tldr_rejected:unknown_citation:2499.00001" in med.flags
