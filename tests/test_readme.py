"""The README's promises: its two opening commands, and the published metadata schema."""

from __future__ import annotations

import json
import re

from tests.paths import ROOT

README = (ROOT / "README.md").read_text()


def test_readme_opens_with_setup_and_test_commands() -> None:
    block = re.search(r"```bash\n(.*?)```", README, re.S)
    assert block is not None
    commands = [c for c in block.group(1).splitlines() if c.strip()]
    assert commands == ["./setup.sh && .venv/bin/digest run --llm mock seeds/", ".venv/bin/python -m pytest"]
    ci = (ROOT / ".ci" / "run").read_text()
    assert commands[0] in ci and commands[1] in ci


def test_published_schema_matches_the_model() -> None:
    from pipeline.stages.enrich.schema import metadata_json_schema

    block = re.search(r"<summary>metadata.schema.json</summary>\s*```json\n(.*?)```", README, re.S)
    assert block is not None
    assert json.loads(block.group(1)) == metadata_json_schema()
