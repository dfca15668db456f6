"""Parse throughput on a synthetic corpus of 10,000 entries built from the seeds."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from .common import DIGEST, md_table, peak_rss_of, synthetic_corpus

TITLE = "Parse throughput"


def run(n_entries: int = 10_000) -> str:
    from pipeline.stages.parse import parse_files

    with tempfile.TemporaryDirectory() as tmp:
        corpus = synthetic_corpus(Path(tmp) / "corpus", n_entries)
        size_mb = sum(p.stat().st_size for p in corpus) / 1e6
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            report = parse_files([Path(tmp) / "corpus"])
            times.append(time.perf_counter() - t0)
        assert len(report.entries) == n_entries, len(report.entries)
        best = min(times)
        cli = peak_rss_of(
            [*DIGEST, "-q", "parse", str(Path(tmp) / "corpus"), "--out", str(Path(tmp) / "out")]
        )
    rows = [
        [
            "library `parse_files` (best of 3)",
            f"{best:.2f} s",
            f"{n_entries / best:,.0f} entries/s",
            f"{size_mb / best:.1f} MB/s",
            "—",
        ],
        [
            "CLI `digest parse` (incl. start-up, JSONL write)",
            f"{cli.seconds:.2f} s",
            f"{n_entries / cli.seconds:,.0f} entries/s",
            f"{size_mb / cli.seconds:.1f} MB/s",
            f"{cli.peak_rss_mb:.0f} MB",
        ],
    ]
    return f"{n_entries:,} entries in {len(corpus)} files ({size_mb:.1f} MB).\n\n" + md_table(
        ["what", "wall time", "throughput", "bytes", "peak RSS"], rows
    )
