"""The mock LLM behind a real HTTP port (stdlib ``ThreadingHTTPServer``)."""

from __future__ import annotations

import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .server import MockLLM, MockTimeout

log = logging.getLogger(__name__)


class MockServer:
    """A running server: ``.url`` is the OpenAI base URL (ending in ``/v1``)."""

    def __init__(self, httpd: ThreadingHTTPServer, mock: MockLLM) -> None:
        self.httpd = httpd
        self.mock = mock
        host, port = httpd.server_address[:2]
        self.host, self.port = str(host), int(port)
        self.url = f"http://{self.host}:{self.port}/v1"
        self._thread = threading.Thread(target=httpd.serve_forever, name="mock-llm", daemon=True)

    def start(self) -> MockServer:
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self.httpd.serve_forever()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> MockServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _handler(mock: MockLLM) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # TCP_NODELAY: the headers and the body go out as separate writes; with Nagle's
        # algorithm the body waits for the client's delayed ACK (40 ms per request)
        disable_nagle_algorithm = True

        def _serve(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            try:
                status, headers, payload = mock.handle(self.command, self.path, dict(self.headers), body)
            except MockTimeout:
                time.sleep(mock.faults.plan.hang_ms / 1000)
                self.close_connection = True  # no response at all: the client sees a dropped request
                return
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_DELETE = _serve  # noqa: N815

        def log_message(self, fmt: str, *args: object) -> None:
            log.debug("mock-llm %s", fmt % args)

    return Handler


def make_server(host: str = "127.0.0.1", port: int = 0, mock: MockLLM | None = None) -> MockServer:
    mock = mock or MockLLM()
    httpd = ThreadingHTTPServer((host, port), _handler(mock))
    httpd.daemon_threads = True
    return MockServer(httpd, mock)


def serve(host: str = "127.0.0.1", port: int = 0, mock: MockLLM | None = None) -> MockServer:
    """Start serving in a background thread; ``.stop()`` when done."""
    return make_server(host, port, mock).start()
