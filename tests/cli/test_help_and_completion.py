"""Each command shows only the options it uses; `digest completion bash|zsh|fish`."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from click.testing import CliRunner

from pipeline.cli import GC_THRESHOLD, main

LLM = {"--llm", "--base-url", "--model", "--concurrency"}


def options_of(*command: str) -> set[str]:
    result = CliRunner().invoke(main, [*command, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    return set(re.findall(r"^\s+(?:-\w, )?(--[\w-]+)", result.stdout, re.M))


@pytest.mark.parametrize(
    ("command", "llm_options"),
    [
        (["parse"], set()),
        (["glossary"], set()),
        (["index"], {"--llm", "--base-url"}),  # embeddings from the endpoint: no chat model
        (["search"], {"--llm", "--base-url"}),
        (["eval", "retrieval"], {"--llm", "--base-url"}),
        (["models"], {"--llm", "--base-url"}),
        (["batch", "status"], {"--llm", "--base-url"}),
        (["ask"], {"--llm", "--base-url", "--model"}),  # one request at a time
        (["translate"], LLM),
        (["enrich"], LLM),
        (["newsletter"], LLM),
        (["run"], LLM),
        (["batch", "collect"], LLM),
        (["config"], LLM),
        (["keys", "set"], set()),
        (["logs", "list"], set()),
    ],
)
def test_each_command_shows_only_the_llm_options_it_uses(command: list[str], llm_options: set[str]) -> None:
    assert options_of(*command) & LLM == llm_options


def test_ask_and_search_show_their_everyday_options() -> None:
    assert {"--continue", "--cid", "--no-log", "--json"} <= options_of("ask")
    assert {"--format", "--json"} <= options_of("search")


@pytest.mark.parametrize(
    ("shell", "marker"),
    [
        ("bash", "complete -o nosort -F"),
        ("zsh", "#compdef digest"),
        ("fish", "complete --no-files --command digest"),
    ],
)
def test_completion_scripts(shell: str, marker: str) -> None:
    result = CliRunner().invoke(main, ["completion", shell])
    assert result.exit_code == 0, result.output
    assert marker in result.stdout and "_DIGEST_COMPLETE" in result.stdout


def complete(*words: str) -> list[str]:
    """What the bash script asks the program for (the last word is the one being typed)."""
    env = {
        "_DIGEST_COMPLETE": "bash_complete",
        "COMP_WORDS": " ".join(["digest", *words]),
        "COMP_CWORD": str(len(words)),
    }
    result = CliRunner().invoke(main, [], env=env, prog_name="digest")
    assert result.exit_code == 0, result.output
    return [line.split(",", 1)[1] for line in result.stdout.splitlines()]


def test_completion_completes_commands_choices_and_options() -> None:
    assert complete("sea") == ["search"]
    assert set(complete("keys", "")) == {"set", "list", "remove", "path"}
    assert complete("completion", "f") == ["fish"]
    assert "--format" in complete("search", "--fo")
    assert set(complete("search", "q", "--format", "")) == {"table", "json", "jsonl", "md"}


def test_unknown_shell_is_a_usage_error() -> None:
    result = CliRunner().invoke(main, ["completion", "powershell"])
    assert result.exit_code == 2 and "bash" in result.output


def test_the_lazy_command_table_matches_the_modules() -> None:
    """``COMMANDS_IN`` names, for every command, the module whose COMMANDS define it; a command
    missing from the table, or named in the wrong module, would be unreachable."""
    import importlib
    import pkgutil

    import pipeline.cli as cli

    defined = {}
    for info in pkgutil.iter_modules(cli.__path__):
        module = importlib.import_module(f"pipeline.cli.{info.name}")
        for cmd in getattr(module, "COMMANDS", ()):
            defined[cmd.name] = info.name
    assert defined == cli.COMMANDS_IN


def test_a_search_imports_no_llm_stage() -> None:
    """`digest search` loads only its own command module, not translate's or enrich's."""
    import subprocess
    import sys

    code = (
        "import sys; from pipeline.cli import main; main.get_command(None, 'search'); "
        "print(sorted(m for m in sys.modules if m.startswith('pipeline.cli.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "pipeline.cli.search" in out
    assert "pipeline.cli.translate" not in out and "pipeline.cli.enrich" not in out


def test_the_program_collects_garbage_in_large_steps() -> None:
    """`digest` (not a test's CliRunner) raises the collector's thresholds for bulk work, and
    skips the collection at its exit."""
    code = (
        "import gc\nfrom pipeline.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print(tuple(gc.get_threshold()), gc.get_freeze_count() > 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    # and leaves what is alive at its end to the exit, not to a last collection
    assert proc.stdout.strip().splitlines()[-1] == f"{GC_THRESHOLD} True"
