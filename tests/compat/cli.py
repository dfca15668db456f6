"""Running the ``digest`` entry point as a user would, and reading what it wrote."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DIGEST = Path(sys.executable).parent / "digest"
TRACEBACK = "Traceback (most recent call last)"


@dataclass
class Result:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    def explain(self) -> str:
        return (
            f"$ digest {' '.join(self.args)}\n-> exit {self.returncode} after {self.seconds:.0f} s\n"
            f"--- stdout\n{self.stdout[-3000:]}\n--- stderr\n{self.stderr[-3000:]}"
        )


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a new user: none of the developer's keys, endpoints, settings or
    user files (the user dir and XDG config live under ``home``; no ``.env``)."""
    drop = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "DIGEST_CONFIG")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_") and k not in drop}
    env.update(
        {
            "DIGEST_USER_DIR": str(home / "digest-user"),
            "XDG_CONFIG_HOME": str(home / "xdg-config"),
            "DIGEST_ENV_FILE": "",
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            **extra,
        }
    )
    return env


def digest(*args: str, cwd: Path, timeout: float, env: dict[str, str] | None = None) -> Result:
    """``digest ARGS`` in ``cwd`` (no digest.toml there, the user's files under it); a hang is a
    failure, not a stuck suite."""
    argv = [str(DIGEST), *args]
    t0 = time.monotonic()
    try:
        proc = subprocess.run(
            argv,
            cwd=cwd,
            env=env or clean_env(cwd / ".home"),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else exc.stdout or ""
        err = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else exc.stderr or ""
        raise AssertionError(
            f"`digest {' '.join(args)}` did not finish within {timeout:.0f} s against the real server\n"
            f"--- stdout\n{out[-3000:]}\n--- stderr\n{err[-3000:]}"
        ) from None
    return Result(list(args), proc.returncode, proc.stdout, proc.stderr, time.monotonic() - t0)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def llm_requests(summary: str) -> int:
    """Requests the command made, from its summary line (``llm  N requests, ...``)."""
    m = re.search(r"^llm\b.*?(\d+) requests", summary, re.M) or re.search(r"(\d+) requests", summary)
    assert m, f"no request count in the summary:\n{summary}"
    return int(m.group(1))
