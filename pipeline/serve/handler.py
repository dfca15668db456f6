"""HTTP for ``digest serve`` (stdlib ``http.server``): routes, JSON in and out, errors as
JSON with their status codes.  No traceback or secret ever reaches a response: an unexpected
error is logged on the server and answered with a plain 500.

Requests must name this server in ``Host`` (a page elsewhere cannot reach it through DNS
rebinding), a POST from another origin is refused (no cross-site form can spend the LLM
budget), and ``/api/ask`` takes only ``application/json`` (a cross-site script would need a
CORS preflight, which is never granted).
"""

from __future__ import annotations

import json
import logging
import time
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from pydantic import BaseModel, ValidationError

from ..errors import ConfigError, DigestError, InputError, LLMError
from ..logsafe import redact
from .openapi import openapi_document
from .page import CSP, Page
from .schema import AskRequest, ErrorDetail, ErrorResponse, NewsletterList, answer_json
from .service import BadParameter, NotFound, Service, package_version, search_params

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1", "[::1]"}


class HTTPError(Exception):
    def __init__(self, status: int, message: str, parameter: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.parameter = parameter


def status_of(exc: BaseException) -> tuple[int, str | None]:
    """The HTTP status of an error (and the bad parameter, for a 400)."""
    if isinstance(exc, HTTPError):
        return exc.status, exc.parameter
    if isinstance(exc, BadParameter):
        return 400, exc.parameter
    if isinstance(exc, NotFound):
        return 404, None
    if isinstance(exc, InputError):
        return 400, None
    if isinstance(exc, LLMError):
        return 502, None
    if isinstance(exc, ConfigError):
        return 503, None
    return 500, None


class Handler(BaseHTTPRequestHandler):
    """One request; the server (``server.py``) carries ``service``, ``page`` and ``hosts``."""

    server_version = "digest-serve"
    sys_version = ""
    # TCP_NODELAY: headers and body are separate writes; with Nagle's algorithm a kept-alive
    # client's next response would wait for its delayed ACK (40 ms)
    disable_nagle_algorithm = True

    # -- plumbing ------------------------------------------------------------------------------

    @property
    def service(self) -> Service:
        return self.server.service  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        log.debug("%s " + format, self.address_string(), *args)

    def _send(self, status: int, body: bytes, content_type: str, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Cache-Control", "no-store")
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, data: Any, status: int = 200) -> None:
        if isinstance(data, BaseModel):
            data = data.model_dump(mode="json")
        body = json.dumps(data, ensure_ascii=False).encode()
        self._send(status, body, "application/json; charset=utf-8")

    def _html(self, text: str, status: int = 200) -> None:
        self._send(status, text.encode(), "text/html; charset=utf-8", {"Content-Security-Policy": CSP})

    def _error(self, exc: BaseException) -> None:
        status, parameter = status_of(exc)
        if status == 500:
            log.error("%s %s failed", self.command, urlsplit(self.path).path, exc_info=exc)
            message = "internal error (see the server's log)"
            if isinstance(exc, DigestError):
                message = redact(str(exc))
        else:
            message = redact(str(exc))
        body = ErrorResponse(error=ErrorDetail(status=status, message=message, parameter=parameter))
        self._json(body, status)

    def _check_host(self) -> None:
        host = (self.headers.get("Host") or "").strip().lower()
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        allowed = self.server.hosts  # type: ignore[attr-defined]
        if allowed is not None and name not in allowed:
            raise HTTPError(403, f"unexpected Host {host[:80]!r}: use {self.server.url}")  # type: ignore[attr-defined]

    def _check_origin(self) -> None:
        origin = self.headers.get("Origin")
        if (
            origin
            and origin != "null"
            and urlsplit(origin).netloc.lower() != (self.headers.get("Host") or "").lower()
        ):
            raise HTTPError(403, "cross-origin requests are refused")

    def _body(self) -> bytes:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            raise HTTPError(400, "bad Content-Length") from None
        if length > MAX_BODY:
            raise HTTPError(413, f"request body over {MAX_BODY} bytes")
        return self.rfile.read(length) if length > 0 else b""

    def _dispatch(self, method: str) -> None:
        started = time.perf_counter()
        try:
            self._check_host()
            route = urlsplit(self.path)
            params = parse_qs(route.query, keep_blank_values=True)
            if method == "POST":
                self._check_origin()
                self._post(route.path, params)
            else:
                self._get(route.path, params)
        except (BrokenPipeError, ConnectionResetError):
            return
        except Exception as exc:  # every error becomes a JSON answer
            try:
                self._error(exc)
            except (BrokenPipeError, ConnectionResetError):
                return
        log.debug("%s %s %.1f ms", method, urlsplit(self.path).path, (time.perf_counter() - started) * 1000)

    def do_GET(self) -> None:  # noqa: N802 - the base class's name
        self._dispatch("GET")

    def do_HEAD(self) -> None:  # noqa: N802
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def _not_allowed(self) -> None:
        self._error(HTTPError(405, f"{self.command} is not allowed here"))

    do_PUT = do_DELETE = do_PATCH = _not_allowed  # noqa: N815

    # -- routes --------------------------------------------------------------------------------

    def _get(self, path: str, params: dict[str, list[str]]) -> None:
        if path == "/api/health":
            self._json(self.service.health())
        elif path == "/api/search":
            self._json(self.service.search(**search_params(params)))
        elif path.startswith("/api/entries/") and len(path) > len("/api/entries/"):
            self._json(self.service.entry(unquote(path[len("/api/entries/") :])))
        elif path == "/api/newsletters":
            self._json(NewsletterList(newsletters=self.service.newsletters()))
        elif path.startswith("/api/newsletters/"):
            fmt = params.get("format", [None])[-1]
            ctype, text = self.service.newsletter(unquote(path[len("/api/newsletters/") :]), fmt)
            extra = {"Content-Security-Policy": CSP} if ctype.startswith("text/html") else None
            self._send(200, text.encode(), ctype, extra)
        elif path == "/openapi.json":
            self._json(openapi_document(package_version()))
        elif path in ("/", "/index.html"):
            self._page_search(params)
        elif path.startswith("/api/") or path == "/ask":
            raise HTTPError(405 if path in ("/api/ask", "/ask") else 404, f"no GET {path}")
        else:
            raise HTTPError(404, f"not found: {path[:200]}")

    def _post(self, path: str, params: dict[str, list[str]]) -> None:
        if path == "/api/ask":
            ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            if ctype != "application/json":
                raise HTTPError(415, "send the question as application/json")
            try:
                request = AskRequest.model_validate_json(self._body() or b"{}")
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first["loc"]) or "body"
                raise BadParameter(where, first["msg"]) from None
            self._json(answer_json(self.service.ask(request)))
        elif path == "/ask":
            form = parse_qs(self._body().decode("utf-8", "replace"), keep_blank_values=True)
            self._page_ask((form.get("question") or [""])[0])
        elif path in ("/api/search", "/api/health", "/api/newsletters", "/openapi.json", "/"):
            raise HTTPError(405, f"no POST {path}")
        else:
            raise HTTPError(404, f"not found: {path[:200]}")

    # -- the page ------------------------------------------------------------------------------

    def _page(self) -> Page:
        return self.server.page  # type: ignore[attr-defined]

    def _page_search(self, params: dict[str, list[str]]) -> None:
        documents = self.service.health().documents
        query = (params.get("q") or [""])[0].strip()
        if not query:
            self._html(self._page().render(documents=documents))
            return
        try:
            found = self.service.search(**search_params({k: v for k, v in params.items() if v != [""]}))
        except DigestError as exc:
            status, _ = status_of(exc)
            self._html(self._page().render(documents=documents, query=query, error=redact(str(exc))), status)
            return
        self._html(
            self._page().render(
                documents=documents, query=query, hits=found.hits, weak_match=found.weak_match
            )
        )

    def _page_ask(self, question: str) -> None:
        documents = self.service.health().documents
        question = question.strip()
        if not question:
            self._html(self._page().render(documents=documents, error="Type a question first."), 400)
            return
        try:
            answer = self.service.ask(AskRequest(question=question))
        except DigestError as exc:
            status, _ = status_of(exc)
            self._html(
                self._page().render(documents=documents, question=question, error=redact(str(exc))), status
            )
            return
        self._html(self._page().render(documents=documents, question=question, answer=answer))
