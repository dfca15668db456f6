"""Query bridging and fusion weights: per-kind recall before/after, the ablation, and how the
weights were chosen (a low-capacity grid, cross-validated by entry).

    .venv/bin/python -m benchmarks fusion

The corpus is the seed digests with reviewed English (``seeds/memory.jsonl`` when present,
else ``/tmp/tm/out/*.jsonl``, else the public translation memory), so that the English side
is real English.  Questions: the public development set (``../shared/eval``) and this
project's own Korean paraphrases (``benchmarks/data``, over entries the development set does
not ask about: a check that nothing was fitted to its questions).  Skips cleanly when the
eval files are absent.
"""

from __future__ import annotations

import itertools
import json
import logging
import random
import tempfile
from pathlib import Path

from .common import ROOT

# ../shared/eval next to the repository (or next to the folder of worktrees)
EVAL_DIR = next(
    (p / "shared" / "eval" for p in (ROOT.parent, ROOT.parent.parent) if (p / "shared" / "eval").is_dir()),
    ROOT.parent / "shared" / "eval",
)
OWN = ROOT / "benchmarks" / "data"
TITLE = "Query bridging and fusion weights (issue 15)"
GRID = (0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0)
BEFORE = {
    "en": {"dense": 0.3, "bm25_en": 1.0, "bm25_ko": 0.2},
    "ko": {"dense": 0.3, "bm25_en": 0.3, "bm25_ko": 1.0},
}


def memory_files() -> tuple[list[Path], str]:
    seeds = ROOT / "seeds" / "memory.jsonl"
    if seeds.is_file():
        return [seeds], "seeds/memory.jsonl (reviewed English)"
    reviewed = sorted(Path("/tmp/tm/out").glob("*.jsonl"))
    if reviewed:
        return reviewed, "reviewed English (/tmp/tm/out)"
    return [EVAL_DIR / "tm-public.jsonl"], "tm-public.jsonl + mock translation"


def build(out: Path, memory: list[Path]):
    from pipeline.settings import load_settings
    from pipeline.stages.index import index_stage
    from pipeline.stages.parse import parse_stage
    from pipeline.stages.translate import translate_stage

    settings = load_settings(
        out_dir=out, progress="off", llm={"provider": "mock"}, translate={"memory_files": memory}
    )
    parse_stage(settings, [ROOT / "seeds"])
    translate_stage(settings)
    index_stage(settings)
    return settings


def questions() -> list[dict]:
    rows = [json.loads(line) for line in (EVAL_DIR / "questions-public.jsonl").read_text().splitlines()]
    own = OWN / "questions-ko-paraphrase.jsonl"
    if own.is_file():
        rows += [json.loads(line) for line in own.read_text().splitlines() if line.strip()]
    return [r for r in rows if r.get("arxiv_id")]


class Runs:
    """Every retriever's ranking of every question, with and without the bridge, computed
    once; a weighting is then fused in microseconds."""

    def __init__(self, settings, rows: list[dict]) -> None:
        from pipeline.retrieval.base import RETRIEVERS
        from pipeline.retrieval.fusion import query_language
        from pipeline.retrieval.searcher import Filters, Searcher
        from pipeline.settings import load_settings

        self.names = list(RETRIEVERS)
        self.sides = {n: RETRIEVERS[n].side for n in self.names}
        self.latin_only = {n: RETRIEVERS[n].latin_only for n in self.names}
        self.rrf_k = settings.search.rrf_k
        bridged = Searcher(settings)
        plain = Searcher(load_settings(out_dir=settings.out_dir, progress="off", search={"bridge": False}))
        bridged.warm_up()
        self.items = []
        for q in rows:
            text = q["question"]
            lang = query_language(text)
            target = bridged.position.get(q["arxiv_id"])
            per = {}
            for label, s in (("bridge", bridged), ("plain", plain)):
                plan = s.plan(text)
                per[label] = (plan.other_share, s.rankings(plan, Filters(), 50, set(self.names)))
            self.items.append((q, lang, target, per))

    def rank(self, item, weights: dict[str, float], bridge: bool) -> int | None:
        return self.score(item, weights, bridge)[0]

    def score(self, item, weights: dict[str, float], bridge: bool) -> tuple[int | None, float]:
        """(rank of the expected entry, its relative margin over the best other entry)."""
        from pipeline.retrieval.fusion import fuse
        from pipeline.text.hangul import hangul_ratio

        q, lang, target, per = item
        share, rankings = per["bridge" if bridge else "plain"]
        w = dict(weights)
        for n in self.names:
            if share is not None and self.sides[n] != lang:
                w[n] *= share
            elif share is None and lang == "ko" and self.latin_only[n]:
                w[n] *= 1.0 - hangul_ratio(q["question"])
        used = [n for n in self.names if w[n] > 0] or self.names
        fused, _ = fuse(rankings, w, used, self.rrf_k)
        order = sorted(fused, key=lambda p: (-fused[p], p))
        mine = fused.get(target, 0.0)
        other = max((v for p, v in fused.items() if p != target), default=0.0)
        margin = (mine - other) / max(mine, other, 1e-9)
        return (order.index(target) + 1 if target in order else None), margin


def metrics(ranks: list[int | None]) -> tuple[float, float, float]:
    n = len(ranks) or 1
    r1 = sum(1 for r in ranks if r == 1) / n
    r5 = sum(1 for r in ranks if r is not None and r <= 5) / n
    mrr = sum(1 / r for r in ranks if r) / n
    return r1, r5, mrr


def best_weights(runs: Runs, items, bridge: bool = True) -> tuple[float, ...]:
    """The grid point with the best MRR, ties broken by the mean margin of the expected entry
    over the next one (the safest weights); one weight pinned to 1.0 (weighted RRF is
    scale-free), so two free parameters."""
    best, chosen = (-1.0, -1.0), None
    for combo in itertools.product(GRID, repeat=len(runs.names)):
        if max(combo) != 1.0:
            continue
        w = dict(zip(runs.names, combo, strict=True))
        scored = [runs.score(i, w, bridge) for i in items]
        key = (round(metrics([r for r, _ in scored])[2], 6), sum(m for _, m in scored) / len(scored))
        if key > best:
            best, chosen = key, combo
    assert chosen is not None
    return chosen


def run() -> str:
    if not (EVAL_DIR / "questions-public.jsonl").is_file():
        return f"skipped: eval files not found in {EVAL_DIR}"
    logging.getLogger("pipeline").setLevel(logging.WARNING)
    from pipeline.retrieval.base import RETRIEVERS
    from pipeline.settings import load_settings

    memory, how = memory_files()
    rows = questions()
    with tempfile.TemporaryDirectory(prefix="digest-fusion-") as tmp:
        settings = build(Path(tmp), memory)
        runs = Runs(settings, rows)
    after = {"en": load_settings().search.weights_en, "ko": load_settings().search.weights_ko}
    kinds = sorted({i[0].get("kind", "all") for i in runs.items})

    def table(label: str, weights: dict[str, dict[str, float]], bridge: bool) -> str:
        cells = []
        for kind in kinds:
            items = [i for i in runs.items if i[0].get("kind", "all") == kind]
            r1, r5, mrr = metrics([runs.rank(i, weights[i[1]], bridge) for i in items])
            cells.append(f"{r1:.3f} / {r5:.3f} / {mrr:.3f}")
        return f"| {label} | " + " | ".join(cells) + " |"

    lines = [
        f"Corpus: the seed digests, English from {how}.  Questions: the public development set "
        f"and `benchmarks/data/questions-ko-paraphrase.jsonl` (ko-paraphrase: this project's own "
        f"Korean questions about entries the development set does not ask about).  "
        f"Cells: R@1 / R@5 / MRR, k=50, rrf_k={runs.rrf_k}.",
        "",
        "| configuration | "
        + " | ".join(f"{k} (n={sum(i[0].get('kind') == k for i in runs.items)})" for k in kinds)
        + " |",
        "|---|" + "---:|" * len(kinds),
        table("before: main's weights, no bridge", BEFORE, False),
        table("main's weights + bridge", BEFORE, True),
        table("new weights, no bridge", after, False),
        table("**after: new weights + bridge**", after, True),
    ]
    for name, spec in RETRIEVERS.items():
        alone = {lang: {n: float(n == name) for n in runs.names} for lang in ("en", "ko")}
        lines.append(table(f"{spec.label} alone, no bridge", alone, False))
        lines.append(table(f"{spec.label} alone, bridged", alone, True))

    # how the weights were chosen: the grid on the development questions, 2-fold CV by entry
    dev = [i for i in runs.items if i[0].get("kind") != "ko-paraphrase"]
    chosen = best_weights(runs, dev)
    ids = sorted({i[0]["arxiv_id"] for i in dev})
    rnd = random.Random(0)
    test_ranks: list[int | None] = []
    picks = []
    for _ in range(3):
        rnd.shuffle(ids)
        half = set(ids[: len(ids) // 2])
        for fold in (half, set(ids) - half):
            train = [i for i in dev if i[0]["arxiv_id"] in fold]
            test = [i for i in dev if i[0]["arxiv_id"] not in fold]
            w = dict(zip(runs.names, best_weights(runs, train), strict=True))
            picks.append(tuple(w.values()))
            test_ranks += [runs.rank(i, w, True) for i in test]
    r1, r5, mrr = metrics(test_ranks)
    lines += [
        "",
        f"Weights ({', '.join(runs.names)}): grid {GRID} with one weight pinned to 1.0 (two free "
        f"parameters, shared by both query languages), best MRR on the development questions "
        f"(ties: the largest mean margin of the expected entry): "
        f"{chosen}; in settings: {tuple(after['en'].values())}.  2-fold cross-validation by entry "
        f"(3 random splits; weights chosen on one half of the entries' questions, scored on the "
        f"other): held-out R@1 {r1:.3f}, R@5 {r5:.3f}, MRR {mrr:.3f}; the picks: "
        f"{sorted(set(picks))}.",
    ]
    return "\n".join(lines)
