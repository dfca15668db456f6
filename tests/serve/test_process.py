"""``digest serve`` as a process: discovery through serve.json, the CLI's results through it
equal to in-process, the output lock both ways, loopback by default, graceful shutdown.

The server runs in a child process (signals, the lock); the commands that use it run
through the CLI's entry point in this process (the in-process results are loaded once)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.store.lock import output_lock
from tests.paths import ROOT
from tests.retrieval.helpers import make_retrieval_out

DIGEST = [sys.executable, "-m", "pipeline"]
ENV = {"DIGEST_LLM__PROVIDER": "mock", "DIGEST_INDEX__EMBEDDING": "endpoint", "DIGEST_PROGRESS": "off"}
USING = "using the running server"


class Result:
    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def digest(*args: str, env: dict[str, str] | None = None) -> Result:
    """``digest ARGS`` through its entry point, in this process."""
    r = CliRunner().invoke(main, list(args), env={**ENV, **(env or {})})
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        raise r.exception
    return Result(r.exit_code, r.stdout, r.stderr)


def digest_process(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*DIGEST, *args], env={**os.environ, **ENV}, capture_output=True, text=True, timeout=180, cwd=ROOT
    )


class Server:
    def __init__(self, out: Path) -> None:
        self.out = out
        self.proc = subprocess.Popen(
            [*DIGEST, "serve", "--port", "0", "--out", str(out)],
            env={**os.environ, **ENV},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        info = out / "serve.json"
        deadline = time.monotonic() + 180
        while not info.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.proc.kill()
                raise AssertionError(f"digest serve did not start: {self.proc.communicate()[1][-2000:]}")
            time.sleep(0.1)
        self.info = json.loads(info.read_text())
        self.url = self.info["url"]

    def stop(self, sig: int = signal.SIGTERM) -> tuple[int, str]:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        _, err = self.proc.communicate(timeout=60)
        return self.proc.returncode, err


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    return make_retrieval_out(tmp_path_factory.mktemp("serve-proc")).out_dir


@pytest.fixture(scope="module")
def server(out):
    srv = Server(out)
    yield srv
    srv.stop()


def test_serve_json_names_a_loopback_url_and_the_pid(server):
    assert server.info["pid"] == server.proc.pid
    assert server.url.startswith("http://127.0.0.1:")
    assert (server.out / ".digest.lock").read_text().strip() == f"{server.proc.pid} serve"


def test_search_through_the_server_equals_in_process(server, out):
    for query in ("multilingual visual instruction tuning", "스마트폰 에이전트"):
        remote = digest("search", query, "--json", "--out", str(out))
        local = digest("search", query, "--json", "--out", str(out), "--no-server")
        assert remote.returncode == 0 and local.returncode == 0, remote.stderr[-2000:]
        assert USING in remote.stderr and USING not in local.stderr
        assert remote.stdout == local.stdout and json.loads(remote.stdout)
    table = digest(
        "search", "video diffusion", "--server", server.url, "--out", str(out), "--since", "2024-10-01"
    )
    table_local = digest(
        "search", "video diffusion", "--no-server", "--out", str(out), "--since", "2024-10-01"
    )
    assert table.returncode == 0 and table.stdout == table_local.stdout


def test_ask_through_the_server_equals_in_process(server, out):
    question = "What is the size of the MMMB benchmark from Parrot, in questions?"
    remote = digest("ask", question, "--json", "--out", str(out))
    local = digest("ask", question, "--json", "--out", str(out), "--no-server")
    assert remote.returncode == 0, remote.stderr[-2000:]
    assert USING in remote.stderr
    assert json.loads(remote.stdout) == json.loads(local.stdout)
    plain = digest("ask", question, "--out", str(out))
    assert "Sources:" in plain.stdout and "[2406.02539]" in plain.stdout


def test_a_server_with_other_settings_is_not_used(server, out):
    r = digest("search", "agents", "--out", str(out), env={"DIGEST_SEARCH__RRF_K": "30"})
    assert r.returncode == 0 and USING not in r.stderr


def test_bad_parameters_through_the_server_are_clear_errors(server, out):
    r = digest("search", "x", "-k", "1000", "--server", server.url, "--out", str(out))
    assert r.returncode == 3 and "k: must be 1..100" in r.stderr and "Traceback" not in r.stderr


def test_writers_are_refused_while_serving(server, out):
    r = digest("index", "--out", str(out))
    assert r.returncode == 5
    assert f"in use by `digest serve` (pid {server.proc.pid})" in r.stderr


def test_serve_refuses_a_folder_a_run_holds(out, tmp_path):
    other = tmp_path / "held"
    other.mkdir()
    with output_lock(other):
        r = digest_process("serve", "--port", "0", "--out", str(other))
    assert r.returncode == 5 and "in use by another digest run" in r.stderr
    assert not (other / "serve.json").exists()


def test_loopback_only_unless_allowed(tmp_path):
    r = digest_process("serve", "--host", "0.0.0.0", "--out", str(tmp_path))
    assert r.returncode == 2 and "not a loopback address" in r.stderr and "--allow-remote" in r.stderr


def test_unreachable_server_is_a_clear_error_and_stale_files_are_ignored(out, tmp_path):
    r = digest("search", "agents", "--server", "http://127.0.0.1:9", "--out", str(out))
    assert r.returncode == 2 and "no digest server answering at http://127.0.0.1:9" in r.stderr
    copy = tmp_path / "copy"
    subprocess.run(["cp", "-r", str(out), str(copy)], check=True)
    (copy / ".digest.lock").unlink(missing_ok=True)
    gone = subprocess.Popen(["true"])
    gone.wait()
    for pid, url in ((gone.pid, "http://127.0.0.1:9"), (os.getpid(), "http://127.0.0.1:9")):
        info = {"url": url, "pid": pid, "out_dir": str(copy), "settings": "x", "started": 0}
        (copy / "serve.json").write_text(json.dumps(info))
        r = digest("search", "agents", "--json", "--out", str(copy))
        assert r.returncode == 0 and json.loads(r.stdout) and USING not in r.stderr


def check_stopped(srv: Server, sig: int) -> None:
    code, err = srv.stop(sig)
    assert code == 0, err[-2000:]
    assert "Traceback" not in err
    assert not (srv.out / "serve.json").exists()
    with output_lock(srv.out):  # released
        pass


def test_sigint_stops_gracefully(out, tmp_path):
    copy = tmp_path / "out"
    subprocess.run(["cp", "-r", str(out), str(copy)], check=True)
    for name in ("serve.json", ".digest.lock"):
        (copy / name).unlink(missing_ok=True)
    check_stopped(Server(copy), signal.SIGINT)


def test_sigterm_stops_gracefully_and_commands_go_back_in_process(server, out):
    check_stopped(server, signal.SIGTERM)
    r = digest("search", "agents", "--json", "--out", str(out))
    assert r.returncode == 0 and USING not in r.stderr and json.loads(r.stdout)
