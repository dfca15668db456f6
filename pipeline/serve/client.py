"""The CLI's side of ``digest serve``: ``search`` and ``ask`` through a running server (``--server
URL``, or the one ``OUT/serve.json`` names), with the same results as in-process.

:func:`server_for` decides: an explicit URL must answer (else a clear error); a discovered one
is used only when it answers ``/api/health`` quickly, serves the same folder and has the same
settings fingerprint, else the command quietly runs in-process.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from datetime import date as Date
from typing import Any
from urllib.parse import urlencode, urlsplit

from ..errors import ConfigError, DigestError, InputError, LLMError
from ..logsafe import redact
from ..records import Answer, Hit
from ..retrieval.followup import Turn
from ..settings import Settings
from .discovery import discovered_url, settings_fingerprint
from .schema import Health, SearchResponse, answer_from_json

log = logging.getLogger(__name__)

HEALTH_TIMEOUT = 1.0


class ServerError(DigestError):
    """The server answered with an error it could not classify."""


class RemoteServer:
    def __init__(self, url: str, *, timeout: float = 300.0) -> None:
        parts = urlsplit(url.strip().rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(f"--server must be an http:// URL, got {url!r}")
        self.url = f"{parts.scheme}://{parts.netloc}{parts.path}"
        self.timeout = timeout
        handlers: list[Any] = []
        if (parts.hostname or "") in ("127.0.0.1", "localhost", "::1"):
            handlers.append(urllib.request.ProxyHandler({}))  # loopback never goes through a proxy
        self._opener = urllib.request.build_opener(*handlers)

    def _call(self, path: str, *, body: dict[str, Any] | None = None, timeout: float | None = None) -> Any:
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode()
        request = urllib.request.Request(self.url + path, data=data, method="GET" if body is None else "POST")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with self._opener.open(request, timeout=timeout or self.timeout) as resp:
                return json.loads(resp.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            raise _error_of(exc) from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ConfigError(f"no digest server answering at {self.url}: {reason}") from None

    def health(self, timeout: float = HEALTH_TIMEOUT) -> Health:
        return Health.model_validate(self._call("/api/health", timeout=timeout))

    def search(
        self,
        query: str,
        *,
        k: int | None = None,
        since: Date | None = None,
        until: Date | None = None,
        topic: str | None = None,
        min_votes: int | None = None,
    ) -> list[Hit]:
        params = {"q": query, "k": k, "since": since, "until": until, "topic": topic, "min_votes": min_votes}
        query_string = urlencode({k: str(v) for k, v in params.items() if v is not None})
        return SearchResponse.model_validate(self._call("/api/search?" + query_string)).hits

    def ask(
        self, question: str, *, lang: str | None = None, k: int | None = None, history: Sequence[Turn] = ()
    ) -> Answer:
        body = {
            "question": question,
            "lang": lang,
            "k": k,
            "history": [{"question": t.question, "answer": t.answer} for t in history],
        }
        return answer_from_json(self._call("/api/ask", body={k: v for k, v in body.items() if v is not None}))


def _error_of(exc: urllib.error.HTTPError) -> DigestError:
    try:
        message = json.loads(exc.read().decode("utf-8"))["error"]["message"]
    except (ValueError, KeyError, TypeError, OSError):
        message = f"HTTP {exc.code}"
    message = redact(str(message))
    if exc.code in (400, 404, 413, 415):
        return InputError(message)
    if exc.code == 502:
        return LLMError(message)
    if exc.code == 503:
        return ConfigError(message)
    return ServerError(f"the digest server failed: {message}")


def server_for(settings: Settings, url: str | None, *, use_server: bool = True) -> RemoteServer | None:
    """The server a command should use: ``url`` (must answer), else the one ``serve.json``
    names when discovery is on and it fits, else None (in-process)."""
    if url:
        server = RemoteServer(url)
        health = server.health(timeout=5.0)
        if health.settings != settings_fingerprint(settings):
            log.warning(
                "the server at %s runs with other settings (or another folder) than this command: "
                "its results may differ from an in-process run",
                server.url,
            )
        return server
    if not use_server or not settings.serve.discover:
        return None
    found = discovered_url(settings)
    if found is None:
        return None
    server = RemoteServer(found)
    try:
        health = server.health()
    except DigestError as exc:
        log.info("ignoring serve.json: %s", exc)
        return None
    if health.settings != settings_fingerprint(settings):
        log.info("the running server (%s) has other settings: running in-process", found)
        return None
    log.info("using the running server at %s", found)
    return server


class RemoteSession:
    """An ``AskSession`` whose questions go to a server (a conversation logs them here)."""

    def __init__(self, settings: Settings, server: RemoteServer) -> None:
        self.settings = settings
        self.server = server
        self.loaded_llm = None  # the server's LLM: no usage to meter here

    def ask(
        self, question: str, stream_to: Callable[[str], None] | None = None, history: Sequence[Turn] = ()
    ) -> Answer:
        answer = self.server.ask(
            question, lang=self.settings.ask.language, k=self.settings.ask.k, history=history
        )
        if stream_to is not None:
            stream_to(answer.answer)
        return answer
