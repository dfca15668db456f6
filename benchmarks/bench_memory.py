"""Peak memory (RSS) of each stage, each in its own process, on the seeds (mock LLM, local
embeddings)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from .common import DIGEST, SEEDS, md_table, peak_rss_of

TITLE = "Peak memory per stage"


def run() -> str:
    env = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "DIGEST_PROGRESS": "off"}
    rows = []
    with tempfile.TemporaryDirectory() as t:
        out = str(Path(t) / "out")
        mock = ["--llm", "mock"]
        stages = [
            ("parse", ["parse", str(SEEDS)]),
            ("translate", ["translate", *mock]),
            ("enrich", ["enrich", *mock]),
            ("index (local MiniLM)", ["index"]),
            ("newsletter (one issue for all dates)", ["newsletter", *mock, "--since", "2024-01-01"]),
            ("search", ["search", "multilingual vision language model"]),
            ("ask", ["ask", "Which papers improve multilingual vision-language models?", *mock]),
            ("index again (nothing to do)", ["index"]),
        ]
        for name, args in stages:
            p = peak_rss_of([*DIGEST, "-q", *args, "--out", out], env=env)
            assert p.returncode == 0, (name, p.stderr[-2000:])
            rows.append([name, f"{p.peak_rss_mb:.0f} MB", f"{p.seconds:.1f} s"])
    return (
        "131 entries (5 seed digests), each stage a separate `digest` process (GNU time %M).\n\n"
        + md_table(["stage", "peak RSS", "wall time"], rows)
        + "\n\nThe LLM stages stay small (records, journal, tokenizer). What embeds with MiniLM (index, "
        "an English search or question) pays for torch and the model, ~0.6-0.8 GB on top; `index again` "
        "has nothing to embed and never loads the model. Parse reads one file at a time (a file over "
        "20 MB is refused), so its peak does not grow with the corpus beyond the entries themselves."
    )
