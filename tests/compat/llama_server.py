"""Start and stop a real llama.cpp OpenAI-compatible server (llama-cpp-python's
``python -m llama_cpp.server``) on a free loopback port.

Used by the compatibility suite (``tests/compat``) and the "real local server" benchmark
(``python -m benchmarks real-server``).  ``./setup.sh`` installs the server into
``.venv-llama/`` and the Gemma 3 270M GGUF into ``.cache/models/``; the environment
variables ``DIGEST_COMPAT_SERVER_PYTHON`` and ``DIGEST_COMPAT_MODEL`` point elsewhere.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent.parent
DEFAULT_PYTHON = ROOT / ".venv-llama" / "bin" / "python"
DEFAULT_MODEL = ROOT / ".cache" / "models" / "gemma3-270m.gguf"
SETUP_LOG = ROOT / ".cache" / "setup-local-llm.log"
MODEL_ALIAS = "gemma3-270m"
N_CTX = 4096
THREADS = os.environ.get("DIGEST_COMPAT_THREADS", "")  # read at import (tests clear DIGEST_*)


def recommended_flags(n_ctx: int = N_CTX, threads: int | None = None) -> list[str]:
    """The flags the suite and the benchmark start the server with.

    ``--chat_format gemma``: the GGUF carries no chat template, and the server's fallback
    (llama-2) makes Gemma answer with empty strings.  Gemma 3 270M handles 32k tokens, but
    the KV cache grows with ``n_ctx``; 4096 holds the largest default request.
    ``--logits_all False``: otherwise every prompt token computes the 262k-vocabulary logits
    (prompt evaluation 2.5x slower).  ``--interrupt_requests False``: a new request must not
    cut a running one short.  Threads: see :func:`server_threads`.
    """
    threads = threads or server_threads()
    return [
        "--n_ctx", str(n_ctx),
        "--n_threads", str(threads),
        "--n_threads_batch", str(threads),
        "--chat_format", "gemma",
        "--model_alias", MODEL_ALIAS,
        "--logits_all", "False",
        "--interrupt_requests", "False",
        "--use_mlock", "False",
        "--verbose", "False",
    ]  # fmt: skip


def server_threads() -> int:
    """``DIGEST_COMPAT_THREADS``, else up to 4 of the cores; 1 when the machine is already busy
    (load average above the core count): llama.cpp's threads spin-wait, and on an oversubscribed
    machine 2 threads generated 5-10x slower than 1."""
    if THREADS:
        return max(1, int(THREADS))
    cores = os.cpu_count() or 1
    if os.getloadavg()[0] > cores:
        return 1
    return max(1, min(cores, 4))


@dataclass(frozen=True)
class Installation:
    python: Path
    model: Path


def find_installation() -> tuple[Installation | None, str]:
    """The server's Python and the model, or None and why they are missing."""
    python = Path(os.environ.get("DIGEST_COMPAT_SERVER_PYTHON") or DEFAULT_PYTHON)
    model = Path(os.environ.get("DIGEST_COMPAT_MODEL") or DEFAULT_MODEL)
    hint = "run ./setup.sh (it builds llama-cpp-python[server] into .venv-llama/)"
    if SETUP_LOG.is_file():
        hint += f"; the last set-up log is {SETUP_LOG.relative_to(ROOT)}"
    if not python.is_file():
        return None, f"no llama.cpp server: {python} not found; {hint}"
    probe = subprocess.run(
        [str(python), "-c", "import llama_cpp.server"], capture_output=True, text=True, timeout=120
    )
    if probe.returncode != 0:
        last = (probe.stderr.strip().splitlines() or ["?"])[-1]
        return None, f"no llama.cpp server: {python} cannot import llama_cpp.server ({last}); {hint}"
    if not model.is_file():
        return None, f"no model: {model} not found; {hint}"
    return Installation(python, model), ""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerError(RuntimeError):
    pass


@dataclass
class Server:
    base_url: str  # ends in /v1
    process: subprocess.Popen[bytes]
    log_path: Path
    flags: list[str]

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@contextmanager
def llama_server(
    inst: Installation,
    log_path: Path,
    *,
    flags: list[str] | None = None,
    start_timeout: float = 180.0,
) -> Iterator[Server]:
    """A server on a free loopback port; yields once ``GET /v1/models`` answers 200; the
    whole process group is killed on exit, whatever happened."""
    flags = list(flags or recommended_flags())
    port = free_port()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [str(inst.python), "-m", "llama_cpp.server", "--model", str(inst.model),
             "--host", "127.0.0.1", "--port", str(port), *flags],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: killed as one
        )  # fmt: skip
    server = Server(f"http://127.0.0.1:{port}/v1", proc, log_path, flags)
    try:
        _wait_ready(server, start_timeout)
        yield server
    finally:
        _stop(proc)


def _wait_ready(server: Server, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if server.process.poll() is not None:
            raise ServerError(
                f"llama.cpp server exited with status {server.process.returncode} before it was ready; "
                f"log {server.log_path}:\n{server.log_tail()}"
            )
        try:
            if httpx.get(server.base_url + "/models", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise ServerError(
                f"llama.cpp server not ready after {timeout:.0f} s; log {server.log_path}:\n{server.log_tail()}"
            )
        time.sleep(0.25)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
