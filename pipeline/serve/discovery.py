"""How the CLI finds a running ``digest serve``: the server writes ``OUT/serve.json`` (its URL,
pid and settings fingerprint) when it starts and removes it when it stops.  A file whose pid
is gone, whose server does not answer, or whose settings differ from the caller's is ignored,
so a crashed server never sends a command astray."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import time
from pathlib import Path

from pydantic import BaseModel, ValidationError

from ..settings import Settings
from ..store.jsonl import write_text_atomic
from ..store.layout import OutDir

log = logging.getLogger(__name__)


class ServeInfo(BaseModel):
    url: str
    pid: int
    out_dir: str
    settings: str
    started: float


def settings_fingerprint(settings: Settings) -> str:
    """A hash of what search and ask results depend on: the same fingerprint, the same
    results in the server and in-process.  Secrets are left out (and only hashed anyway)."""
    data = settings.model_dump(
        mode="json",
        include={
            "search": True,
            "index": True,
            "ask": {"prompt", "min_relevance"},
            "llm": {"provider", "base_url", "azure_endpoint", "chat_model", "embedding_model", "temperature"},
            "prompts_dir": True,
        },
        exclude={"index": {"kiwi_process"}},  # how the index is built, not what it holds
    )
    data["out_dir"] = str(Path(settings.out_dir).resolve())
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def write_serve_info(settings: Settings, url: str) -> ServeInfo:
    info = ServeInfo(
        url=url,
        pid=os.getpid(),
        out_dir=str(Path(settings.out_dir).resolve()),
        settings=settings_fingerprint(settings),
        started=time.time(),
    )
    path = OutDir(settings.out_dir).serve_info_path
    write_text_atomic(path, info.model_dump_json(indent=2) + "\n")
    path.chmod(0o644)
    return info


def remove_serve_info(settings: Settings) -> None:
    """Remove ``serve.json`` if it is this process's."""
    path = OutDir(settings.out_dir).serve_info_path
    info = read_serve_info(path)
    if info is not None and info.pid == os.getpid():
        with contextlib.suppress(OSError):
            path.unlink()


def read_serve_info(path: Path) -> ServeInfo | None:
    try:
        return ServeInfo.model_validate_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValidationError, ValueError) as exc:
        log.debug("ignoring %s: %s", path, type(exc).__name__)
        return None


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def discovered_url(settings: Settings) -> str | None:
    """The URL of a server holding ``settings.out_dir`` whose pid is alive (None otherwise).
    Whether it answers, and with the same settings, the client checks (``client.py``)."""
    info = read_serve_info(OutDir(settings.out_dir).serve_info_path)
    if info is None:
        return None
    if not pid_alive(info.pid):
        log.debug("stale serve.json (pid %d is gone): ignored", info.pid)
        return None
    return info.url
