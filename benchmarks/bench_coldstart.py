"""Cold start of ``digest search`` and ``digest ask``: a fresh process per query (subprocess
wall time, several runs, median), against the seeds' index with the default local embeddings."""

from __future__ import annotations

import tempfile
from pathlib import Path

from .common import DIGEST, SEEDS, md_table, median, peak_rss_of, run_measured

TITLE = "Cold start: search and ask"
RUNS = 5


def run() -> str:
    env = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "DIGEST_PROGRESS": "off"}
    rows = []
    with tempfile.TemporaryDirectory() as t:
        out = str(Path(t) / "out")
        built = run_measured([*DIGEST, "-q", "run", "--llm", "mock", str(SEEDS), "--out", out], env=env)
        assert built.returncode == 0, built.stderr[-2000:]
        cases = [
            ("`digest --help` (imports only)", [*DIGEST, "--help"]),
            ("`digest search` English", [*DIGEST, "search", "diffusion model distillation", "--out", out]),
            ("`digest search` Korean", [*DIGEST, "search", "확산 모델 증류", "--out", out]),
            (
                "`digest ask` (mock LLM)",
                [*DIGEST, "ask", "Which papers distill diffusion models?", "--llm", "mock", "--out", out],
            ),
        ]
        for label, args in cases:
            procs = [peak_rss_of(args, env=env) for _ in range(RUNS)]
            assert all(p.returncode == 0 for p in procs), procs[-1].stderr[-2000:]
            secs = [p.seconds for p in procs]
            rows.append(
                [
                    label,
                    f"{median(secs):.2f} s",
                    f"{min(secs):.2f}–{max(secs):.2f} s",
                    f"{median([p.peak_rss_mb for p in procs]):.0f} MB",
                ]
            )
    return (
        f"Each command in a fresh process, {RUNS} runs, 2 cores; the index is the seeds' (131 entries, "
        "local all-MiniLM-L6-v2).\n\n"
        + md_table(["command", "median wall", "range", "peak RSS"], rows)
        + "\n\nMost of a cold English `search` is loading torch, sentence-transformers and the MiniLM model "
        "to embed the query, plus opening Chroma and building the BM25 indexes; the search itself is "
        "tens of ms (see the index benchmark). A purely Korean query gives the (English-only) dense "
        "retriever no weight, so the model is never loaded: that is the faster Korean row. For many "
        "questions, `digest ask` without an argument reads them from stdin and loads everything once."
    )
