"""``digest serve``: warm API search latency (p50/p95 over many queries, one client, loopback)
against a cold ``digest search`` (a fresh process per query), and the CLI through a running
server, on the seeds' index with the default local embeddings."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

from .common import DIGEST, SEEDS, md_table, median, percentile, run_measured

TITLE = "Serve: warm API search vs cold CLI search"
QUERIES = [
    "diffusion model distillation",
    "multilingual visual instruction tuning",
    "mobile device agents",
    "video generation",
    "reinforcement learning from human feedback",
    "long context language models",
    "3D scene reconstruction",
    "speech recognition benchmark",
    "mixture of experts",
    "code generation evaluation",
    "확산 모델 증류",
    "다국어 시각 지시 학습",
    "스마트폰 에이전트",
    "비디오 생성 모델",
    "강화 학습",
]
ROUNDS = 8  # warm requests: len(QUERIES) * ROUNDS
COLD_RUNS = 3


def _start(out: str, env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    info = Path(out) / "serve.json"
    proc = subprocess.Popen(
        [*DIGEST, "-q", "serve", "--port", "0", "--out", out],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    t0 = time.perf_counter()
    while not info.exists():
        if proc.poll() is not None or time.perf_counter() - t0 > 900:
            raise RuntimeError(f"digest serve did not start: {proc.communicate()[1][-2000:]}")
        time.sleep(0.05)
    url = json.loads(info.read_text())["url"]
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    while not json.loads(opener.open(url + "/api/health").read())["ready"]:
        time.sleep(0.05)
    return proc, url


def run() -> str:
    env = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "DIGEST_PROGRESS": "off"}
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with tempfile.TemporaryDirectory() as t:
        out = str(Path(t) / "out")
        built = run_measured([*DIGEST, "-q", "run", "--llm", "mock", str(SEEDS), "--out", out], env=env)
        assert built.returncode == 0, built.stderr[-2000:]

        cold = {}
        for label, query in (("English", QUERIES[0]), ("Korean", QUERIES[10])):
            runs = [
                run_measured([*DIGEST, "search", query, "--out", out, "--no-server"], env=env)
                for _ in range(COLD_RUNS)
            ]
            assert all(r.returncode == 0 for r in runs), runs[-1].stderr[-2000:]
            cold[label] = median([r.seconds for r in runs])

        t0 = time.perf_counter()
        proc, url = _start(out, env)
        startup = time.perf_counter() - t0
        try:
            lat: dict[str, list[float]] = {"English": [], "Korean": []}
            for _ in range(ROUNDS):
                for q in QUERIES:
                    s = time.perf_counter()
                    body = opener.open(url + "/api/search?" + urlencode({"q": q})).read()
                    lat["Korean" if any("\uac00" <= c <= "\ud7a3" for c in q) else "English"].append(
                        (time.perf_counter() - s) * 1000
                    )
                    assert json.loads(body)["hits"]
            via = {}
            for label, query in (("English", QUERIES[0]), ("Korean", QUERIES[10])):
                runs = [
                    run_measured([*DIGEST, "search", query, "--out", out], env=env) for _ in range(COLD_RUNS)
                ]
                assert all(r.returncode == 0 and "running server" in r.stderr for r in runs), runs[-1].stderr
                via[label] = median([r.seconds for r in runs])
        finally:
            proc.send_signal(signal.SIGTERM)
            stopped = proc.wait(timeout=120)
        assert stopped == 0

    rows = []
    for label in ("English", "Korean"):
        ms = lat[label]
        rows.append(
            [
                label,
                f"{percentile(ms, 50):.1f} ms",
                f"{percentile(ms, 95):.1f} ms",
                f"{len(ms)}",
                f"{via[label]:.2f} s",
                f"{cold[label]:.2f} s",
                f"×{cold[label] * 1000 / percentile(ms, 50):.0f}",
            ]
        )
    return (
        f"The seeds' index (131 entries, local all-MiniLM-L6-v2). Warm: `GET /api/search` from one client "
        f"over loopback, {len(QUERIES)} queries × {ROUNDS} rounds, after the models loaded. Cold: "
        f"`digest search --no-server` in a fresh process, median of {COLD_RUNS}. Through the server: "
        f"`digest search` in a fresh process that finds the server through serve.json, median of "
        f"{COLD_RUNS}. The server took {startup:.1f} s from launch to ready (index opened, models "
        "loaded; it answers health checks, and queues searches, before that).\n\n"
        + md_table(
            ["query", "warm p50", "warm p95", "requests", "CLI via server", "cold CLI", "cold / warm p50"],
            rows,
        )
    )
