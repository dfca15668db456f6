"""The whole CLI, end to end, against a real llama.cpp server serving Gemma 3 270M.

The model is tiny and its English is poor, so nothing here judges translation quality.
What is asserted is what the pipeline promises whatever the model does: the run ends with
exit 0 (or the documented code and a summary saying what is left and how to resume), every
section is translated or flagged and never lost, the counts add up, structured output works
or falls back, there is no traceback, a re-run makes no request for finished work, ``ask``
answers with validated citations or refuses, and ``digest doctor`` reports the server.

The first ``digest run`` is made with ``--llm openai --base-url URL`` and NO other setting
(no model name, no JSON mode, no timeout, no concurrency): what a newcomer types.
The tests share its output folder and run in file order.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from pipeline.store.layout import OutDir
from pipeline.text.hangul import has_hangul
from tests.paths import FIXTURES

from .cli import TRACEBACK, Result, digest, llm_requests, read_jsonl
from .conftest import EXTERNAL_URL as EXTERNAL
from .llama_server import N_CTX

DIGEST_FILE = FIXTURES / "compat_digest.md"  # 1 entry, 1 short Korean section, 2024-06-06
DATE = "2024-06-06"
REFUSAL = "I cannot answer this question from the digests."
# Generous per-command bounds: a hang must fail the suite, not stall CI.  The whole suite
# normally takes a few minutes (see BENCHMARKS.md, "Real local server").
RUN_TIMEOUT = 600.0
CMD_TIMEOUT = 300.0
EXIT_LLM_FAILED = 4  # README: "4 the LLM endpoint failed (finished work is kept: re-run to resume)"


# -- the shared state: one output folder, one first run -------------------------------------


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("compat")


@pytest.fixture(scope="module")
def out(work: Path) -> Path:
    return work / "out"


@pytest.fixture(scope="module")
def first_run(endpoint: str, work: Path, out: Path) -> Result:
    """``digest run --llm openai --base-url URL`` with no other setting."""
    return digest(
        "run", str(DIGEST_FILE), "--llm", "openai", "--base-url", endpoint, "--out", str(out),
        cwd=work, timeout=RUN_TIMEOUT,
    )  # fmt: skip


@pytest.fixture(scope="module")
def finished(first_run: Result, endpoint: str, work: Path, out: Path) -> list[Result]:
    """The stages the first run did not reach, each by its own command.  ``digest run`` stops
    after a stage only when the endpoint never answered (README, failure policy); a server that
    answers, even unusably, lets the run go on, so normally this is empty."""
    m = re.search(r"^stopped\b.*?not run: ([a-z, ]+)", first_run.stdout, re.M)
    stages = [st.strip() for st in m.group(1).split(",") if st.strip()] if m else []
    llm = ["--llm", "openai", "--base-url", endpoint]
    return [
        digest(stage, "--out", str(out), *(llm if stage != "index" else []), cwd=work, timeout=RUN_TIMEOUT)
        for stage in stages
    ]


@pytest.fixture(scope="module")
def rerun(
    first_run: Result, finished: list[Result], endpoint: str, work: Path, out: Path
) -> tuple[Result, dict, int]:
    """The same command again; with the sections and the work left just before it."""
    before = _section_states(out)
    left = _leftovers(out, first_run.stdout)
    again = digest(
        "run", str(DIGEST_FILE), "--llm", "openai", "--base-url", endpoint, "--out", str(out),
        cwd=work, timeout=RUN_TIMEOUT,
    )  # fmt: skip
    return again, before, left


# -- helpers -----------------------------------------------------------------------------------


def _no_traceback(res: Result) -> None:
    assert TRACEBACK not in res.stderr and TRACEBACK not in res.stdout, res.explain()


def _sections(out: Path) -> list[tuple[str, int, str]]:
    """(entry id, section index, Korean text) of every parsed section."""
    return [
        (e["id"], i, s["text"])
        for e in read_jsonl(out / "entries.jsonl")
        for i, s in enumerate(e["sections"])
    ]


def _status(rec: dict[str, Any]) -> str:
    """translated / flagged / untranslated, from a record of translations.jsonl."""
    if rec.get("status"):  # an explicit status, if the record carries one
        status = str(rec["status"]).lower().replace(" ", "_").replace("-", "_")
        return "untranslated" if status in ("untranslated", "not_translated", "failed") else status
    flags = [str(f).lower() for f in rec.get("flags") or []]
    if any("untranslated" in f for f in flags):
        return "untranslated"
    return "flagged" if flags else "translated"


def _section_states(out: Path) -> dict[tuple[str, int], dict[str, Any]]:
    path = out / "translations.jsonl"
    if not path.exists():
        return {}
    return {(r["entry_id"], r["index"]): r for r in read_jsonl(path)}


def _stage_line(res: Result, stage: str) -> str:
    m = re.search(rf"^{stage}\b.*$", res.stdout, re.M)
    assert m, f"no {stage!r} line in the summary:\n{res.explain()}"
    return m.group(0)


def _artifact(out: Path, name: str, res: Result) -> Path:
    path = out / name
    assert path.is_file(), f"{name} was not written:\n{res.explain()}"
    return path


def _count(line: str, *labels: str) -> int:
    """The number written with one of ``labels`` (``3 flagged``, ``translated 3 sections``),
    0 when absent."""
    for label in labels:
        m = re.search(rf"(?<![\w-])(\d+)\s+(?:sections?\s+)?{label}\b", line, re.I) or re.search(
            rf"(?<![\w-]){label}\s+(\d+)\s+sections?\b", line, re.I
        )
        if m:
            return int(m.group(1))
    return 0


def _leftovers(out: Path, summary: str) -> int:
    """Work a re-run may legitimately retry: sections not translated, entries whose LLM
    fields failed, and newsletter intros that failed (not cached)."""
    untranslated = sum(1 for r in _section_states(out).values() if _status(r) == "untranslated")
    meta_path = out / "metadata.jsonl"
    failed = (
        sum(1 for m in read_jsonl(meta_path) if m.get("llm_status") == "failed") if meta_path.exists() else 0
    )
    line = re.search(r"^newsletter\b.*$", summary, re.M)
    intro = re.search(r"intros?\b.*?(\d+) failed", line.group(0)) if line else None
    return untranslated + failed + (int(intro.group(1)) if intro else 0)


# -- the run -----------------------------------------------------------------------------------


def test_run_with_only_a_base_url_completes(first_run: Result, out: Path) -> None:
    """Every stage runs (the server answers, so no stage's failure stops the run), ending with
    exit 0, or the documented exit 4 with a summary saying what is left and how to resume."""
    _no_traceback(first_run)
    assert first_run.returncode in (0, EXIT_LLM_FAILED), first_run.explain()
    assert not re.search(r"^stopped\b", first_run.stdout, re.M), first_run.explain()
    for stage in ("parse", "translate", "enrich", "index", "newsletter", "llm"):
        _stage_line(first_run, stage)
    assert list((out / "newsletter").glob("*.html")), first_run.explain()
    if first_run.returncode == EXIT_LLM_FAILED:
        text = (first_run.stdout + first_run.stderr).lower()
        assert "re-run" in text or "resume" in text, first_run.explain()


def test_every_section_is_translated_or_flagged_never_lost(first_run: Result, out: Path) -> None:
    sections = _sections(out)
    assert len(sections) == 1, first_run.explain()
    records = read_jsonl(_artifact(out, "translations.jsonl", first_run))
    keys = [(r["entry_id"], r["index"]) for r in records]
    assert sorted(keys) == sorted((e, i) for e, i, _ in sections), "a section is missing or duplicated"
    for rec in records:
        status = _status(rec)
        assert status in ("translated", "flagged", "untranslated"), rec
        if has_hangul(rec["text"]):
            # Korean left in the text is only allowed when the record says so
            assert status != "translated", f"Korean text not flagged: {rec}"
        assert rec["text"].strip(), f"empty translation kept: {rec}"


def test_structured_output_works_or_falls_back(first_run: Result, out: Path, truth: dict[str, bool]) -> None:
    """The chain must settle on a mode the server accepts (llama.cpp answers json_schema with
    HTTP 500) and record it in the capabilities cache.  (Whether Gemma 270M's replies are
    usable is the model's quality, not asserted.)"""
    caps = _capabilities(out)
    assert caps, f"no capabilities cache (a file named *capabilit*) in {out}"
    modes = set(_modes_in_use(caps))
    assert modes, f"the capabilities cache names no structured-output mode in use: {caps}"
    if not truth["json_schema"]:
        assert "json_schema" not in modes, f"json_schema is rejected by the server, yet in use: {caps}"


def _modes_in_use(doc: Any) -> list[str]:
    """Values of the cache's ``*mode*`` keys that name a structured-output mode."""
    found: list[str] = []
    if isinstance(doc, dict):
        for key, value in doc.items():
            if isinstance(value, str) and "mode" in key.lower() and "reject" not in key.lower():
                if value.startswith(("json_", "text", "plain")):
                    found.append(value)
            elif isinstance(value, dict | list) and "reject" not in key.lower() and key != "modes":
                found.extend(_modes_in_use(value))
    elif isinstance(doc, list):
        for item in doc:
            found.extend(_modes_in_use(item))
    return found


def _capabilities(out: Path) -> list[Any]:
    """Every JSON document of the capabilities cache (any file under OUT named *capabilit*)."""
    docs: list[Any] = []
    for path in sorted(out.rglob("*capabilit*")):
        if not path.is_file():
            continue
        raw = path.read_text(encoding="utf-8")
        try:
            docs.append(json.loads(raw))
        except json.JSONDecodeError:
            docs.extend(json.loads(line) for line in raw.splitlines() if line.strip())
    return docs


def test_translate_counts_add_up(first_run: Result, out: Path) -> None:
    """translated + flagged + not translated == sections, and the summary tells the same."""
    states = _section_states(out)
    by_status = {
        s: sum(1 for r in states.values() if _status(r) == s)
        for s in ("translated", "flagged", "untranslated")
    }
    assert sum(by_status.values()) == len(_sections(out))
    line = _stage_line(first_run, "translate")
    summary_flagged = _count(line, "flagged")
    summary_untranslated = _count(line, "NOT translated", "not translated", "untranslated")
    assert (summary_flagged, summary_untranslated) == (by_status["flagged"], by_status["untranslated"]), line
    summary_translated = _count(
        line.replace("NOT translated", "").replace("not translated", ""), "translated"
    )
    assert summary_translated == by_status["translated"], (
        f"the summary's 'translated' must count only sections translated cleanly ({by_status}):\n{line}"
    )


def test_stages_not_reached_run_on_their_own(finished: list[Result]) -> None:
    """What the stopped run left runs as its summary says (exit 0, or 4 with the summary)."""
    for res in finished:
        _no_traceback(res)
        assert res.returncode in (0, EXIT_LLM_FAILED), res.explain()


def test_index_and_newsletter_have_every_entry(first_run: Result, finished: list[Result], out: Path) -> None:
    _artifact(out, "index.sqlite", first_run)
    docs = OutDir(out).load_index_docs()
    assert sorted(d.entry_id for d in docs) == ["2406.01014"]
    for ext in ("md", "html", "xml"):
        page = out / "newsletter" / f"digest-{DATE}.{ext}"
        assert page.is_file(), first_run.explain()
        text = page.read_text(encoding="utf-8")
        assert "Mobile-Agent-v2" in text


def test_rerun_makes_no_request_for_finished_work(rerun: tuple[Result, dict, int], out: Path) -> None:
    """Nothing left: 0 requests.  Something left (exit 4): only that is retried, within the
    retry budget (<= 3 requests each), and every finished section stays as it was."""
    again, before, left = rerun
    _no_traceback(again)
    assert again.returncode in (0, EXIT_LLM_FAILED), again.explain()
    after = _section_states(out)
    for key, rec in before.items():
        if _status(rec) != "untranslated":
            assert (after[key]["text"], after[key]["flags"]) == (rec["text"], rec["flags"]), key
    requests = llm_requests(again.stdout)
    assert requests <= 3 * left, f"{left} items were left to do:\n{again.explain()}"


# -- ask ---------------------------------------------------------------------------------------


def test_ask_answers_with_validated_citations_or_refuses(
    first_run: Result, finished: list[Result], endpoint: str, work: Path, out: Path
) -> None:
    res = digest(
        "ask", "How much does Mobile-Agent-v2 improve task completion?", "--json",
        "--llm", "openai", "--base-url", endpoint, "--out", str(out),
        cwd=work, timeout=CMD_TIMEOUT,
    )  # fmt: skip
    _no_traceback(res)
    assert res.returncode == 0, res.explain()
    answer = json.loads(res.stdout)
    retrieved = {h.get("arxiv_id") or h["entry_id"] for h in answer["retrieved"]}
    assert "2406.01014" in retrieved, answer["retrieved"]
    if answer["refused"]:
        assert answer["answer"].strip() == REFUSAL and not answer["citations"], answer
        return
    assert answer["answer"].strip(), answer
    cited = {c["arxiv_id"] for c in answer["citations"]}
    assert cited, f"an answer without citations must be refused: {answer}"
    assert cited <= retrieved, f"citations outside the retrieved entries: {cited - retrieved}"
    in_text = set(re.findall(r"\[(\d{4}\.\d{4,5})\]", answer["answer"]))
    assert in_text <= cited, f"the text cites what the citations do not list: {in_text - cited}"
    for removed in answer["removed_citations"]:
        assert f"[{removed}]" not in answer["answer"], answer


# -- doctor ------------------------------------------------------------------------------------


def _chat(endpoint: str, messages: list[dict[str, str]], **params: Any) -> httpx.Response:
    body = {"model": "any", "messages": messages, "max_tokens": 8, "temperature": 0, **params}
    return httpx.post(endpoint + "/chat/completions", json=body, timeout=300)


@pytest.fixture(scope="module")
def truth(endpoint: str) -> dict[str, bool]:
    """What the server really does, asked directly (five short requests)."""
    ask = [{"role": "user", "content": "Reply with a JSON object."}]
    truth = {
        "json_schema": _chat(
            endpoint,
            ask,
            response_format={"type": "json_schema", "json_schema": {"name": "probe", "schema": SCHEMA}},
        ).status_code
        == 200,
        "json_object": _chat(endpoint, ask, response_format={"type": "json_object"}).status_code == 200,
    }
    # json_object + a schema key the prompt never mentions: constrained iff the key comes back
    # (the reply may be cut short: Gemma 270M writes {"zebra_count": 1000000000000...)
    r = _chat(endpoint, ask, max_tokens=48, response_format={"type": "json_object", "schema": SCHEMA})
    try:
        content = r.json()["choices"][0]["message"]["content"] or ""
        truth["json_object_schema"] = r.status_code == 200 and '"zebra_count"' in content
    except (ValueError, KeyError, IndexError, TypeError):
        truth["json_object_schema"] = False
    # a system message that is honoured costs prompt tokens
    user = {"role": "user", "content": "Hi."}
    system = {"role": "system", "content": "You are a terse assistant who answers in one word only."}
    without = _chat(endpoint, [user], max_tokens=1).json()["usage"]["prompt_tokens"]
    with_system = _chat(endpoint, [system, user], max_tokens=1).json()["usage"]["prompt_tokens"]
    truth["system_role"] = with_system > without
    return truth


SCHEMA = {
    "type": "object",
    "properties": {"zebra_count": {"type": "integer"}},
    "required": ["zebra_count"],
}
MODE_PATTERNS = {  # how a report names each structured-output mode
    "json_schema": r"json_schema",
    "json_object_schema": r"json_object\s*(?:\+|plus|with|_)\s*(?:a\s+)?schema",
    "json_object": r"json_object(?!\s*(?:\+|plus|with|_)\s*(?:a\s+)?schema)",
}
VERDICT = re.compile(
    r"\b(?P<yes>yes|ok|accepted|supported|works|true|constrain\w*)\b|(?P<no>\bno\b|\bnot\b|rejected|"
    r"unsupported|\bfalse\b|fail\w*|ignored|http \d{3})|(?P<yes_mark>[✓✔])|(?P<no_mark>[✗✘])"
)


def _verdicts(report: str, mode: str) -> list[bool]:
    """The first yes/no said on each line that is about ``mode`` (its first mode named)."""
    found = []
    for line in report.lower().splitlines():
        hits = [
            (m.start(), m.end(), name)
            for name, pat in MODE_PATTERNS.items()
            for m in [re.search(pat, line)]
            if m
        ]
        if not hits or min(hits)[2] != mode:
            continue
        v = VERDICT.search(line[min(hits)[1] :])
        if v:
            found.append(bool(v.group("yes") or v.group("yes_mark")))
    return found


def test_doctor_reports_the_servers_capabilities(endpoint: str, work: Path, truth: dict[str, bool]) -> None:
    """``digest doctor`` says what the server really does: each claim is checked against the
    server's own answers to direct requests."""
    res = digest(
        "doctor", "--base-url", endpoint, "--out", str(work / "doctor"), cwd=work, timeout=CMD_TIMEOUT
    )
    _no_traceback(res)
    assert res.returncode == 0, res.explain()
    report, low = res.stdout, res.stdout.lower()
    models = [m["id"] for m in httpx.get(endpoint + "/models", timeout=30).json()["data"]]
    assert models and all(m in report for m in models), f"the model list {models} is missing:\n{report}"
    for mode in MODE_PATTERNS:
        said = _verdicts(report, mode)
        assert said, f"nothing said about {mode}:\n{report}"
        assert said[0] == truth[mode], (
            f"the server {'accepts' if truth[mode] else 'rejects'} {mode}:\n{report}"
        )
    system_lines = [ln for ln in low.splitlines() if "system" in ln]
    assert system_lines, f"nothing said about system messages:\n{report}"
    if not truth["system_role"]:
        assert any(re.search(r"ignored|dropped|not (?:used|honou?red)|fold", ln) for ln in system_lines), (
            report
        )
    assert re.search(r"\d+(\.\d+)?\s*(tok(en)?s?/s|tokens? per second)", low), f"no speed:\n{report}"
    context = [ln for ln in low.splitlines() if "context" in ln]
    assert context, f"no context window (or 'unknown'):\n{report}"
    if not EXTERNAL:  # our server: started with --n_ctx N_CTX, which llama.cpp reports in its errors
        assert any(str(N_CTX) in ln for ln in context), f"the context window is {N_CTX}:\n{report}"
    assert "recommend" in low, f"no recommended settings:\n{report}"
