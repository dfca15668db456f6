"""Retrieval benchmark: index the seed digests (mock translation + the public translation
memory), evaluate the public dev questions with hybrid search and with each retriever
alone, measure search latency once loaded and the cold start of ``digest search``.

    .venv/bin/python benchmarks/retrieval.py [--keep DIR]

Prints a Markdown report.  Skips cleanly when the eval files are absent.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EVAL_DIR = Path(__file__).resolve().parents[2] / "shared" / "eval"
sys.path.insert(0, str(ROOT))


def build(out: Path):
    from pipeline.settings import load_settings
    from pipeline.stages.parse import parse_stage

    settings = load_settings(
        out_dir=out,
        progress="off",
        llm={"provider": "mock"},
        translate={"memory_files": [EVAL_DIR / "tm-public.jsonl"]},
    )
    parse_stage(settings, [ROOT / "seeds"])
    timings: dict[str, float] = {}
    start = time.perf_counter()
    how = "translate stage (mock LLM + translation memory)"
    try:
        from pipeline.stages.translate import translate_stage

        translate_stage(settings)
    except ImportError:
        how = "translation memory only (translate stage missing)"
    timings["translate"] = time.perf_counter() - start

    from pipeline.stages.index import index_stage

    start = time.perf_counter()
    report = index_stage(settings)
    timings["index (cold, incl. model load)"] = time.perf_counter() - start
    start = time.perf_counter()
    again = index_stage(settings)
    timings["re-index unchanged"] = time.perf_counter() - start
    assert again.added == again.updated == again.deleted == 0
    return settings, report, timings, how


def cold_start(out: Path, query: str, runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(
            [str(ROOT / ".venv" / "bin" / "digest"), "-q", "search", query, "--out", str(out), "-k", "5"],
            check=True,
            capture_output=True,
            cwd=out,
        )
        times.append(time.perf_counter() - start)
    return statistics.median(times)


TITLE = "Retrieval on the development set (digests 003 and 004)"


def run() -> str:
    """For `python -m benchmarks retrieval`: the same report, as Markdown."""
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        main([])
    return buf.getvalue().replace("## Retrieval\n", "", 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keep", type=Path, help="Build in this folder and keep it.")
    parser.add_argument("--cold-runs", type=int, default=3)
    args = parser.parse_args(argv)
    questions = EVAL_DIR / "questions-public.jsonl"
    if not questions.is_file() or not (EVAL_DIR / "tm-public.jsonl").is_file():
        print(f"skipped: eval files not found in {EVAL_DIR}")
        return 0
    logging.basicConfig(level=logging.WARNING)

    from pipeline.retrieval.base import RETRIEVERS, retriever_names
    from pipeline.retrieval.evaluate import evaluate_retrieval
    from pipeline.retrieval.searcher import Searcher

    with tempfile.TemporaryDirectory(prefix="digest-bench-") as tmp:
        out = args.keep or Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        settings, index_report, timings, how = build(out)
        start = time.perf_counter()
        searcher = Searcher(settings)
        searcher.warm_up()
        timings["searcher load (in process)"] = time.perf_counter() - start

        runs = {"hybrid (fused)": retriever_names()}
        runs.update({f"{spec.label} only": (name,) for name, spec in RETRIEVERS.items()})
        reports = {
            name: evaluate_retrieval(settings, questions, k=10, searcher=searcher, retrievers=r)
            for name, r in runs.items()
        }
        cold_en = cold_start(out, "multilingual visual instruction tuning", args.cold_runs)
        cold_ko = cold_start(out, "다국어 시각 지시 튜닝", args.cold_runs)

    print("## Retrieval\n")
    print(
        f"Corpus: {index_report.entries} entries from seeds/ ({index_report.chunks} chunks), "
        f"English from: {how}; {index_report.untranslated} entries left untranslated by the mock "
        f"are indexed by title and English terms.  Questions: {questions.name} "
        f"({len(reports['hybrid (fused)'].results)}).  k=10, rrf_k={settings.search.rrf_k}.\n"
    )
    print("| retrieval | lang | n | recall@1 | recall@5 | recall@10 | MRR |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for name, rep in reports.items():
        for lang, m in [("all", rep.overall), *rep.by_lang.items()]:
            r = m.recall
            print(f"| {name} | {lang} | {m.n} | {r[1]:.3f} | {r[5]:.3f} | {r[10]:.3f} | {m.mrr:.3f} |")
    hybrid = reports["hybrid (fused)"]
    print("\nHybrid by kind:\n")
    print("| kind | n | recall@1 | recall@5 | recall@10 | MRR |\n|---|---:|---:|---:|---:|---:|")
    for kind, m in hybrid.by_kind.items():
        print(
            f"| {kind} | {m.n} | {m.recall[1]:.3f} | {m.recall[5]:.3f} | {m.recall[10]:.3f} | {m.mrr:.3f} |"
        )
    lat = hybrid.latency_ms()
    print("\n| timing | value |\n|---|---:|")
    print(f"| hybrid search p50 (loaded) | {lat['p50']:.1f} ms |")
    print(f"| hybrid search p95 (loaded) | {lat['p95']:.1f} ms |")
    for name, seconds in timings.items():
        print(f"| {name} | {seconds:.2f} s |")
    print(f"| cold `digest search` English query (median of {args.cold_runs}) | {cold_en:.2f} s |")
    print(f"| cold `digest search` Korean query (median of {args.cold_runs}) | {cold_ko:.2f} s |")
    misses = hybrid.misses()
    if misses:
        print(
            f"\nHybrid misses at rank 1: {len(misses)} "
            f"({', '.join(f'{m.question.kind}/{m.question.lang} rank {m.rank}' for m in misses)})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
