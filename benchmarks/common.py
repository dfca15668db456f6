"""Shared helpers: machine description, synthetic corpora, subprocess timing and peak memory."""

from __future__ import annotations

import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
EVAL_DIR = Path(os.environ.get("DIGEST_EVAL_DIR") or ROOT.parent / "shared" / "eval")  # a worktree sets it
DIGEST = [sys.executable, "-m", "pipeline"]


class Unavailable(Exception):  # noqa: N818
    """A benchmark that cannot run on this machine (e.g. no local LLM server): its last
    results are kept, not overwritten by a failure."""


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def machine() -> str:
    cpu = cpu_model()
    mem = ""
    try:
        kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))  # type: ignore[union-attr]
        mem = f"{kb / 1024 / 1024:.0f} GiB RAM"
    except (OSError, AttributeError):
        pass
    import numpy

    return (
        f"{os.cpu_count()} cores ({cpu}), {mem}, no GPU; {platform.platform()}; "
        f"Python {platform.python_version()}, numpy {numpy.__version__} (no torch)"
    )


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    k = (len(values) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


@dataclass
class Proc:
    seconds: float
    peak_rss_mb: float
    returncode: int
    stdout: str
    stderr: str


def run_measured(
    args: list[str],
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    stdin: str | None = None,
    timeout: float = 1800,
) -> Proc:
    """Run a command in a child process; wall time and the child's peak RSS (via wait4)."""
    full_env = {**os.environ, **(env or {})}
    t0 = time.perf_counter()
    p = subprocess.Popen(
        args,
        env=full_env,
        cwd=cwd,
        stdin=subprocess.PIPE if stdin is not None else None,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    out, err = p.communicate(stdin, timeout=timeout)
    seconds = time.perf_counter() - t0
    # the exited child's own peak RSS
    _, _, ru = os.wait4(p.pid, os.WNOHANG) if p.returncode is None else (0, 0, None)
    peak = ru.ru_maxrss / 1024 if ru else resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return Proc(seconds, peak, p.returncode, out, err)


def peak_rss_of(args: list[str], **kw) -> Proc:
    """Like run_measured but the peak RSS comes from GNU time's %M when available (exact per child)."""
    time_bin = Path("/usr/bin/time")
    if time_bin.exists():
        proc = run_measured([str(time_bin), "-f", "@@MAXRSS %M", *args], **kw)
        m = re.search(r"@@MAXRSS (\d+)", proc.stderr)
        if m:
            proc.peak_rss_mb = int(m.group(1)) / 1024
        return proc
    return run_measured(args, **kw)


def synthetic_corpus(dest: Path, n_entries: int) -> list[Path]:
    """Digest files built from the seeds, entries replicated with fresh arXiv ids, 50 per file."""
    from pipeline.stages.parse import parse_files

    entries = parse_files([SEEDS]).entries
    dest.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    per_file = 50
    for f in range((n_entries + per_file - 1) // per_file):
        day = f % 28 + 1
        month = f // 28 % 12 + 1
        lines = [f"## Daily Papers (2030-{month:02d}-{day:02d})", ""]
        for j in range(per_file):
            i = f * per_file + j
            if i >= n_entries:
                break
            e = entries[i % len(entries)]
            aid = f"{3000 + i // 90000}.{i % 90000:05d}"
            lines += [
                f"### [{e.title} (copy {i})](https://arxiv.org/abs/{aid})",
                "",
                f"![](https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/{aid}.png)",
                "",
                f"Vote: {e.votes}",
                "",
                "Authors: " + ", ".join(e.authors),
                "",
            ]
            for s in e.sections:
                label = f"***{s.label}***: " if s.label else ""
                lines.append(f"- {label}{s.text}")
            lines.append("")
        p = dest / f"synthetic_{f:04d}.md"
        p.write_text("\n".join(lines), encoding="utf-8")
        files.append(p)
    return files


def md_table(headers: list[str], rows: list[list[object]]) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for r in rows:
        out.append("| " + " | ".join(str(c) for c in r) + " |")
    return "\n".join(out)
