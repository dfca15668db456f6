"""A ``digest`` process whose writes can be watched or killed (used by test_crash_writes.py).

``python -m tests.crash_child record LOG OUT -- ARGS...``: run ``digest ARGS``, then write every
write point it passed (``kind:path-in-OUT``, in order) to LOG as JSON.
``python -m tests.crash_child kill POINT OUT -- ARGS...``: SIGKILL itself at the first write
point equal to POINT: between writing a temp file and renaming it ("replace"), or in the
middle of appending to a journal ("append").  The hook is the write primitives' test seam
(``pipeline.store.jsonl.write_hook``)."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path


def main() -> None:
    mode, target, out, sep, *args = sys.argv[1:]
    assert sep == "--" and mode in ("record", "kill")
    root = Path(out).resolve()
    seen: list[str] = []

    from pipeline.store import jsonl

    def hook(kind: str, path: Path) -> None:
        point = f"{kind}:{os.path.relpath(Path(path).resolve(), root)}"
        seen.append(point)
        if mode == "kill" and point == target:
            os.kill(os.getpid(), signal.SIGKILL)

    jsonl.write_hook = hook
    from pipeline.cli import main as digest

    try:
        digest([*args, "--out", out], standalone_mode=False)
    finally:
        if mode == "record":
            Path(target).write_text(json.dumps(seen), encoding="utf-8")


if __name__ == "__main__":
    main()
