from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from pipeline.store.lock import output_lock


def test_lock_refuses_a_second_process(tmp_path: Path) -> None:
    code = (
        "import sys; from pipeline.store.lock import output_lock\n"
        "from pipeline.errors import LockError\n"
        "try:\n"
        f"    with output_lock({str(tmp_path)!r}): print('got it')\n"
        "except LockError as e: print('refused:', e)\n"
    )
    with output_lock(tmp_path), output_lock(tmp_path):  # re-entrant in one process
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("refused:") and "in use by another digest run" in out.stdout
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "got it"
