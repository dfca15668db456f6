"""Run benchmarks and write BENCHMARKS.md.

.venv/bin/python -m benchmarks            # all
.venv/bin/python -m benchmarks parse ask  # some (others keep their last results)
.venv/bin/python -m benchmarks real_server  # against a real llama.cpp server (./setup.sh installs it)
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import logging
import re
import sys
import time

from .common import ROOT, Unavailable, cpu_model, machine

# name -> module (each has TITLE and run() -> markdown)
BENCHES = {
    "parse": "bench_parse",
    "translate": "bench_translate",
    "tokens": "bench_tokens",
    "index": "bench_index",
    "coldstart": "bench_coldstart",
    "memory": "bench_memory",
    "retrieval": "retrieval",
    "kiwi": "bench_kiwi",
    "scale": "bench_scale",
    "serve": "bench_serve",
    "real_server": "bench_real_server",  # needs ./setup.sh's llama.cpp server (.venv-llama)
    "fusion": "bench_fusion",
    "answers": "bench_answers",
}

OUT = ROOT / "BENCHMARKS.md"


def _sections(text: str) -> dict[str, str]:
    found = {}
    for m in re.finditer(r"<!-- bench:(\w+) -->\n(.*?)<!-- /bench:\1 -->", text, re.S):
        found[m.group(1)] = m.group(2)
    return found


def _write(old: dict[str, str]) -> None:
    parts = [
        "# Benchmarks\n",
        "Measured by `.venv/bin/python -m benchmarks` (not part of the test run). "
        "Ratios are measured side by side in one run.\n",
        f"**Machine of the latest run:** {machine()}.  Sections stamped from 2026-11-29 "
        "name the CPU they ran on; the earlier ones do not (the header of 2026-11-28 named an Intel "
        "Xeon @ 2.50GHz).\n",
    ]
    for name in BENCHES:
        if name in old:
            parts.append(f"<!-- bench:{name} -->\n{old[name]}<!-- /bench:{name} -->\n")
    OUT.write_text("\n".join(parts))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks")
    ap.add_argument("names", nargs="*", help=", ".join(BENCHES))
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    names = args.names or list(BENCHES)
    old = _sections(OUT.read_text()) if OUT.exists() else {}
    for name in names:
        mod = importlib.import_module(f"benchmarks.{BENCHES[name]}")
        print(f"== {name}: {mod.TITLE}", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        try:
            body = mod.run()
        except Unavailable as exc:
            print(f"   skipped ({exc}); its last results are kept", file=sys.stderr)
            continue
        except Exception as exc:  # a failed benchmark is reported, not hidden
            body = f"**failed:** `{type(exc).__name__}: {exc}`\n"
        stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        old[name] = (
            f"## {mod.TITLE}\n\n_{stamp}, {time.perf_counter() - t0:.0f} s to run on {cpu_model()}._\n\n"
            f"{body.strip()}\n\n"
        )
        print(old[name], file=sys.stderr)
        # after each benchmark, so a later failure loses nothing; merged with the file as it is
        # now, so two benchmark runs at once keep each other's sections
        current = _sections(OUT.read_text()) if OUT.exists() else {}
        current[name] = old[name]
        _write(current)
    print(f"wrote {OUT}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
