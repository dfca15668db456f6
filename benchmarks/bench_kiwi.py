"""Kiwi's options: load time (fresh process, what a cold Korean ``digest search`` pays), the
time to analyse the seeds' Korean texts, and the quality of Korean BM25 (alone and fused) on
the development set, for each option set.  ``lexical.KIWI_OPTIONS`` is the choice."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from .common import EVAL_DIR, ROOT, SEEDS, md_table, median

TITLE = "Kiwi options: load time against quality"
LOAD_RUNS = 3
OPTIONS: list[dict[str, object]] = [
    {},  # kiwipiepy's defaults (model_type "none" = its default CoNg model, all dictionaries)
    {"model_type": "none", "load_multi_dict": False},
    {"model_type": "none", "load_multi_dict": False, "load_typo_dict": False},
    {"model_type": "cong-global"},
    {"model_type": "largest"},
]

_LOAD = """
import json, sys, time
t0 = time.perf_counter()
from kiwipiepy import Kiwi
k = Kiwi(**json.loads(sys.argv[1]))
k.tokenize("확산 모델 증류")
print(json.dumps(time.perf_counter() - t0))
"""

_QUALITY = """
import json, logging, sys, time
from pathlib import Path
logging.disable(logging.WARNING)
from pipeline.retrieval import lexical
lexical.KIWI_OPTIONS = json.loads(sys.argv[2])
from pipeline.retrieval.evaluate import evaluate_retrieval
from pipeline.retrieval.searcher import Searcher
from pipeline.settings import load_settings
from pipeline.stages.index import index_stage
from pipeline.stages.index.docs import load_docs_inputs
s = load_settings(out_dir=Path(sys.argv[1]), progress="off", llm={"provider": "mock"},
                  index={"embedding": "endpoint"}, translate={"memory_files": [sys.argv[3]]})
texts = [d.korean for d in load_docs_inputs(s)]
kiwi = lexical.get_kiwi()
t0 = time.perf_counter()
kiwi.tokenize(texts)
analyse = time.perf_counter() - t0
index_stage(s)
se = Searcher(s)
out = {"analyse": analyse, "texts": len(texts)}
for name, use in (("ko", ("bm25_ko",)), ("hybrid", None)):
    rep = evaluate_retrieval(s, Path(sys.argv[4]), k=10, searcher=se, retrievers=use)
    m = rep.by_lang.get("ko") if name == "ko" else rep.overall
    out[name] = [m.n, m.recall[1], m.recall[10], m.mrr]
print(json.dumps(out))
"""


def run() -> str:
    questions, memory = EVAL_DIR / "questions-public.jsonl", EVAL_DIR / "tm-public.jsonl"
    if not questions.is_file() or not memory.is_file():
        return f"skipped: eval files not found in {EVAL_DIR}"
    from pipeline.llm import make_llm
    from pipeline.llm.mock import MockLLM
    from pipeline.settings import load_settings
    from pipeline.stages.parse import parse_stage
    from pipeline.stages.translate import translate_stage

    env = {**os.environ, "PYTHONPATH": str(ROOT), "DIGEST_PROGRESS": "off"}
    rows = []
    with tempfile.TemporaryDirectory(prefix="digest-bench-kiwi-") as t:
        out = Path(t) / "out"
        s = load_settings(
            out_dir=out, progress="off", llm={"provider": "mock"}, translate={"memory_files": [memory]}
        )
        parse_stage(s, [SEEDS])
        translate_stage(s, llm=make_llm(s, mock=MockLLM()))
        loads: dict[str, list[float]] = {json.dumps(o): [] for o in OPTIONS}
        for _ in range(LOAD_RUNS):  # round robin: a change of the machine's load hits every option
            for arg, times in loads.items():
                p = subprocess.run(
                    [sys.executable, "-c", _LOAD, arg], env=env, capture_output=True, text=True, check=True
                )
                times.append(json.loads(p.stdout.strip().splitlines()[-1]))
        for opts in OPTIONS:
            arg = json.dumps(opts)
            p = subprocess.run(
                [sys.executable, "-c", _QUALITY, str(out), arg, str(memory), str(questions)],
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            assert p.returncode == 0, p.stderr[-2000:]
            q = json.loads(p.stdout.strip().splitlines()[-1])
            ko, hy = q["ko"], q["hybrid"]
            rows.append(
                [
                    "`" + (", ".join(f"{k}={v!r}" for k, v in opts.items()) or "defaults") + "`",
                    f"{median(loads[arg]):.2f} s ({min(loads[arg]):.2f}–{max(loads[arg]):.2f})",
                    f"{q['analyse']:.2f} s",
                    f"{ko[1]:.3f} / {ko[2]:.3f} / {ko[3]:.3f} (n={ko[0]})",
                    f"{hy[1]:.3f} / {hy[2]:.3f} / {hy[3]:.3f} (n={hy[0]})",
                ]
            )
    return (
        f"Load: a fresh process importing kiwipiepy, building `Kiwi(**options)` and analysing one "
        f"query (median of {LOAD_RUNS}).  Analyse: the seeds' 131 Korean texts in one call.  Quality: "
        "the seeds indexed with the public translation memory, the development questions; Korean BM25 "
        "alone on the Korean questions, and the hybrid on all (recall@1 / recall@10 / MRR).\n\n"
        + md_table(
            ["options", "load", "analyse 131 texts", "Korean BM25 alone, Korean questions", "hybrid, all"],
            rows,
        )
    )
