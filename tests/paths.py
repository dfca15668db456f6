"""Where the test data lives: one place, so tests can sit in any sub-folder."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
SEEDS = ROOT / "seeds"

# the variables that keep a test (and the subprocesses it starts) off the real user dir and .env
ISOLATION_VARS = ("DIGEST_USER_DIR", "DIGEST_ENV_FILE", "XDG_CONFIG_HOME")
