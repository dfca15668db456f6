from __future__ import annotations

from pathlib import Path

import pytest

from tests.paths import FIXTURES, SEEDS


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture
def seeds_dir() -> Path:
    return SEEDS


@pytest.fixture
def shipped_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    """Use the default translation memory (the samples' reviewed English), as a user would."""
    monkeypatch.delenv("DIGEST_TRANSLATE__MEMORY_FILES", raising=False)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """No test sees the developer's keys, endpoints or config files, nor touches the real
    user dir (~/.config/digest: config.toml, keys, logs, history) or a .env file."""
    clean_env(monkeypatch, tmp_path_factory.mktemp("home"))
    # the shipped translation memory (seeds/memory.jsonl) covers every seed section, and the
    # fixtures are cut from the seeds: a test sees it only when it asks for it (``shipped_memory``)
    monkeypatch.setenv("DIGEST_TRANSLATE__MEMORY_FILES", "[]")
    # a test process keeps Kiwi loaded from one test to the next; a child process per index
    # would load it again each time (tests/retrieval/test_kiwi_process.py tests the child)
    monkeypatch.setenv("DIGEST_INDEX__KIWI_PROCESS", "false")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-screenshot",
        action="store_true",
        help="write docs/newsletter.png from the rendered sample issue (tests/stages/newsletter/test_chromium.py)",
    )
    parser.addoption(
        "--update-readme",
        action="store_true",
        help="rewrite the README's excerpts from a fresh run on the seeds (tests/test_readme.py)",
    )


def clean_env(mp: pytest.MonkeyPatch, home: Path) -> None:
    """The environment of a fresh clone: no keys, endpoints, config or DIGEST_* settings, and
    an empty user dir under ``home`` (never the real ~/.config/digest), no ./.env."""
    import os

    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "DIGEST_CONFIG"):
        mp.delenv(var, raising=False)
    for var in list(os.environ):
        if var.startswith("DIGEST_"):
            mp.delenv(var, raising=False)
    mp.setenv("DIGEST_USER_DIR", str(home / "digest-user"))
    mp.setenv("XDG_CONFIG_HOME", str(home / "xdg-config"))  # subprocesses that drop DIGEST_*
    mp.setenv("DIGEST_ENV_FILE", "")  # no ./.env
    mp.setenv("HF_HUB_OFFLINE", "1")
    mp.setenv("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def seeds_run_without_index(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """``digest run --llm mock seeds/ --skip index`` as a new user runs it (the shipped
    memory on): its output folder and what it printed.  Shared by the first-run tests
    and the screenshot."""
    from click.testing import CliRunner

    from pipeline.cli import main

    out = tmp_path_factory.mktemp("seeds-run") / "out"
    with pytest.MonkeyPatch.context() as mp:
        clean_env(mp, tmp_path_factory.mktemp("home"))
        res = CliRunner().invoke(
            main, ["-q", "run", "--llm", "mock", str(SEEDS), "--out", str(out), "--skip", "index"]
        )
    assert res.exit_code == 0, res.output
    return out, res.output


# -- after every test that wrote an output folder: do its records agree? ----------------------


@pytest.fixture(autouse=True)
def _folders_stay_consistent(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
):
    """Every artifact the product wrote during a test must agree with the artifacts it derives
    from (entries <-> translations <-> metadata <-> index documents; ``check_folder``), and no
    temp file may be left.  A test that damages a folder on purpose says so with
    ``@pytest.mark.inconsistent_ok``."""
    from pipeline.store import jsonl

    written: set[Path] = set()
    atomic = jsonl.replace_atomically

    def recording(path, write, **kw):  # noqa: ANN001, ANN003, ANN202
        atomic(path, write, **kw)
        written.add(Path(path).resolve())

    monkeypatch.setattr(jsonl, "replace_atomically", recording)
    from pipeline.stages.index import stage as index_stage

    write_docs = index_stage.write_docs

    def recording_docs(path, *args, **kw):  # noqa: ANN001, ANN002, ANN003, ANN202
        n = write_docs(path, *args, **kw)
        written.add(Path(path).resolve())
        return n

    monkeypatch.setattr(index_stage, "write_docs", recording_docs)
    yield
    if request.node.get_closest_marker("inconsistent_ok") or not written:
        return
    from pipeline.store.consistency import check_folder

    base = tmp_path_factory.getbasetemp().resolve()
    folders = {
        f
        for p in written
        if base in p.parents
        for f in p.parents
        if base in f.parents and ((f / ".digest.lock").exists() or (f / "entries.jsonl").exists())
    }
    problems = []
    for folder in sorted(folders):
        report = check_folder(folder, written=written)
        problems.extend(f"{folder}: {p}" for p in report.problems)
    assert not problems, "records disagree after the test:\n" + "\n".join(problems)
