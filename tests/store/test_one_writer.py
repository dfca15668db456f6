"""One writer per output folder, for EVERY command that writes it (issue 17).

``digest parse`` or ``digest newsletter`` ran beside a ``digest run`` and left 444
translations next to 12 entries.  Now every writing command takes the lock, and the store's
write primitives refuse to write in a locked folder without it, so a command that forgets
fails at its first write.  The commands are enumerated from the CLI itself: a new command
must be classified here as a writer or a reader."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.errors import LockError
from pipeline.store.jsonl import append_jsonl, write_jsonl_atomic, write_text_atomic
from pipeline.store.lock import output_lock
from tests.paths import FIXTURES

DIGEST = FIXTURES / "retrieval_digest.md"
QUESTIONS = FIXTURES / "retrieval_questions.jsonl"

# every command that writes the output folder, with arguments that make it write
WRITERS: dict[str, list[str]] = {
    "parse": ["parse", str(DIGEST)],
    "translate": ["translate", "--llm", "mock"],
    "translate --batch": ["translate", "--llm", "mock", "--batch"],
    "glossary --rebuild": ["glossary", "--rebuild"],
    "enrich": ["enrich", "--llm", "mock"],
    "enrich --batch": ["enrich", "--llm", "mock", "--batch"],
    "index": ["index", "--llm", "mock", "--embedding", "endpoint"],
    "newsletter": ["newsletter", "--llm", "mock"],
    "run": ["run", "--llm", "mock", str(DIGEST)],
    "batch collect": ["batch", "collect", "--llm", "mock"],
    "eval retrieval --memory": ["eval", "retrieval", "--questions", str(QUESTIONS), "--memory", "{memory}"],
}
# commands that never write the folder (or only with the flags listed above)
READERS = {
    "config",
    "search",
    "ask",
    "models",
    "mock-llm",
    "batch status",
    "eval retrieval",
    "eval answers",  # like ask: only the query-translation cache (shared, no lock needed)
    "glossary",
    "check",
    "completion",
    "serve",  # holds the lock for its whole life (tests/serve/ test that a run is refused meanwhile)
    "doctor",  # writes only the endpoint capabilities cache (shared: any command may rewrite it)
    # these write the user directory (keys file, logs.db), never an output folder
    "keys list",
    "keys path",
    "keys remove",
    "keys set",
    "logs list",
    "logs path",
    "logs search",
}


def _command_paths(group: click.Group, prefix: str = "") -> list[str]:
    out = []
    for name, cmd in (group.load_all() if hasattr(group, "load_all") else group.commands).items():
        path = f"{prefix}{name}"
        out.extend(_command_paths(cmd, path + " ") if isinstance(cmd, click.Group) else [path])
    return out


def test_every_command_is_classified_as_writer_or_reader() -> None:
    writers = {w.split(" --")[0] for w in WRITERS}
    unknown = sorted(set(_command_paths(main)) - writers - READERS)
    assert not unknown, f"classify {unknown} in WRITERS (with arguments that write) or READERS"


def _snapshot(out: Path) -> dict[str, str]:
    return {
        str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def ready(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder every command has inputs for: a whole run, and a translation memory."""
    out = tmp_path_factory.mktemp("locked") / "out"
    env = {"DIGEST_PROGRESS": "off", "DIGEST_INDEX__EMBEDDING": "endpoint"}
    result = CliRunner().invoke(main, ["run", "--llm", "mock", str(DIGEST), "--out", str(out)], env=env)
    assert result.exit_code == 0, result.output
    memory = out.parent / "tm.jsonl"
    memory.write_text(
        json.dumps({"ko": "한국어", "en": "Korean"}, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return out


@pytest.fixture(scope="module")
def held_elsewhere(ready: Path):
    """Another process holds the folder (as a long ``digest run`` would)."""
    code = (
        "import sys\nfrom pipeline.store.lock import output_lock\n"
        f"with output_lock({str(ready)!r}):\n    print('held', flush=True)\n    sys.stdin.read()\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    yield proc
    assert proc.stdin is not None
    proc.stdin.close()
    proc.wait(timeout=30)


@pytest.mark.parametrize("name", sorted(WRITERS))
def test_every_writing_command_is_refused_while_another_run_holds_the_folder(
    name: str, ready: Path, held_elsewhere: subprocess.Popen
) -> None:
    before = _snapshot(ready)
    args = [a.replace("{memory}", str(ready.parent / "tm.jsonl")) for a in WRITERS[name]]
    env = {"DIGEST_PROGRESS": "off", "DIGEST_INDEX__EMBEDDING": "endpoint"}
    result = CliRunner().invoke(main, [*args, "--out", str(ready)], env=env)
    assert result.exit_code == 5, (name, result.output)
    assert f"{ready} is in use by another digest run (pid {held_elsewhere.pid})" in result.output
    assert "Traceback" not in result.output
    assert _snapshot(ready) == before, f"{name} changed the folder while another run held it"


def test_readers_still_work_while_a_run_holds_the_folder(
    ready: Path, held_elsewhere: subprocess.Popen
) -> None:
    env = {"DIGEST_PROGRESS": "off", "DIGEST_INDEX__EMBEDDING": "endpoint", "DIGEST_LLM__PROVIDER": "mock"}
    result = CliRunner().invoke(main, ["search", "agents", "--out", str(ready)], env=env)
    assert result.exit_code == 0, result.output


# -- the store layer -------------------------------------------------------------------------


def test_the_write_primitives_refuse_a_locked_folder_without_its_lock(tmp_path: Path) -> None:
    """Structural: whatever command forgets ``output_lock``, its first write fails."""
    out = tmp_path / "out"
    with output_lock(out):
        write_jsonl_atomic(out / "a.jsonl", [{"x": 1}])  # holding it: fine
        append_jsonl(out / "cache" / "j.jsonl", [{"x": 1}])
    for write in (
        lambda: write_jsonl_atomic(out / "a.jsonl", [{"x": 2}]),
        lambda: write_text_atomic(out / "newsletter" / "n.md", "x"),
        lambda: append_jsonl(out / "cache" / "j.jsonl", [{"x": 2}]),
    ):
        with pytest.raises(LockError, match="does not hold its lock"):
            write()
    assert (out / "a.jsonl").read_text() == '{"x": 1}\n'
    assert not (out / "newsletter").exists()
    write_text_atomic(tmp_path / "elsewhere.txt", "free")  # outside any output folder


def test_taking_the_lock_removes_temp_files_a_killed_writer_left(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "cache").mkdir(parents=True)
    (out / ".entries.jsonl.k2j3h4.tmp").write_text("half")
    (out / "cache" / ".translate.jsonl.x.tmp").write_text("half")
    (out / "keep.tmp").write_text("not ours")  # not a temp file of the atomic writer
    with output_lock(out):
        pass
    assert sorted(p.name for p in out.rglob("*") if p.is_file()) == [".digest.lock", "keep.tmp"]


def test_the_endpoint_capabilities_cache_is_shared(tmp_path: Path) -> None:
    """``digest ask`` or ``doctor`` on a folder a run once wrote (its lock file is there) may
    record what it learnt of the endpoint: the cache is written atomically and no artifact
    derives from it, so it needs no lock (an artifact would be refused here, see above)."""
    from pipeline.llm.capabilities import Capabilities, CapabilityStore
    from pipeline.store.layout import OutDir

    out = tmp_path / "out"
    with output_lock(out):
        write_jsonl_atomic(out / "a.jsonl", [{"x": 1}])
    store = CapabilityStore(OutDir(out).capabilities_path)
    store.put(Capabilities(base_url="http://127.0.0.1:8080/v1", model="m", structured_mode="text"))
    store.put(Capabilities(base_url="http://127.0.0.1:9090/v1", model="m", structured_mode="text"))
    cached = json.loads(OutDir(out).capabilities_path.read_text(encoding="utf-8"))["endpoints"]
    assert len(cached) == 2
