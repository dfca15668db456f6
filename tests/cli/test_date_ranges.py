"""``--since`` later than ``--until`` is exit 2 naming the range, for every command that takes
them (issue 17: ``digest search`` said "no results", exit 0).  The commands are found in the
CLI itself, so a new command with the two options is covered."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from pipeline.cli import main
from tests.paths import FIXTURES

# the other arguments each command needs to reach its date check
EXTRA_ARGS = {"search": ["agents"], "newsletter": ["--llm", "mock", "--no-intro"]}


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = []
    for name, cmd in (group.load_all() if hasattr(group, "load_all") else group.commands).items():
        if isinstance(cmd, click.Group):
            out.extend(_commands(cmd, (*prefix, name)))
        elif {"since", "until"} <= {p.name for p in cmd.params}:
            out.append((*prefix, name))
    return out


DATED = _commands(main)


def test_the_dated_commands_are_found() -> None:
    assert {("search",), ("newsletter",)} <= set(DATED)


@pytest.fixture(scope="module")
def parsed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dated") / "out"
    result = CliRunner().invoke(main, ["parse", str(FIXTURES / "retrieval_digest.md"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


@pytest.mark.parametrize("command", DATED, ids=" ".join)
def test_since_after_until_is_exit_2_naming_the_range(command: tuple[str, ...], parsed: Path) -> None:
    args = [
        *command,
        *EXTRA_ARGS.get(" ".join(command), []),
        "--since",
        "2024-06-05",
        "--until",
        "2024-06-01",
    ]
    result = CliRunner().invoke(main, [*args, "--out", str(parsed)], env={"DIGEST_PROGRESS": "off"})
    assert result.exit_code == 2, result.output
    assert "--since 2024-06-05 is after --until 2024-06-01" in result.output
    assert "Traceback" not in result.output


def test_an_equal_since_and_until_is_one_day(parsed: Path) -> None:
    result = CliRunner().invoke(
        main,
        [
            "newsletter",
            "--llm",
            "mock",
            "--no-intro",
            "--since",
            "2024-06-04",
            "--until",
            "2024-06-04",
            "--out",
            str(parsed),
        ],
        env={"DIGEST_PROGRESS": "off"},
    )
    assert result.exit_code != 2, result.output
