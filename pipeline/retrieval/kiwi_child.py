"""The child process of ``kiwi_process.py``: loads Kiwi, then answers requests (JSON lines
on stdin and stdout) with ``lexical.py``'s own functions.  Run as
``python -m pipeline.retrieval.kiwi_child OPTIONS`` (Kiwi's options, as JSON)."""

from __future__ import annotations

import json
import sys
from typing import Any

from . import lexical
from .known_forms import encode


def serve(options: dict[str, Any]) -> None:  # pragma: no cover - runs in the child process
    out = sys.stdout.buffer
    error = ""
    try:
        lexical.KIWI_OPTIONS = options
        lexical.get_kiwi().tokenize("준비")  # Kiwi builds its model on first use: now
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which analyses itself
        error = f"{type(exc).__name__}: {exc}"
    for line in sys.stdin.buffer:
        reply: Any
        try:
            if error:
                raise RuntimeError(error)
            request = json.loads(line)
            texts = request["texts"]
            if request["op"] == "analyse":
                tokens, forms = lexical.analyse_ko_many(texts)
                reply = {"tokens": tokens, "forms": [[f, encode(t), n] for (f, t), n in forms.items()]}
            elif request["op"] == "tokenize":
                reply = [lexical.tokenize_ko(t) for t in texts]
            else:
                raise ValueError(f"unknown request {request['op']!r}")
        except Exception as exc:  # noqa: BLE001 - one bad request does not end the process
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        out.write(json.dumps(reply, ensure_ascii=False).encode("utf-8") + b"\n")
        out.flush()


if __name__ == "__main__":  # pragma: no cover - the child process
    serve(json.loads(sys.argv[1]))
