"""A ``digest serve`` running in a thread of the test process, and a tiny HTTP client."""

from __future__ import annotations

import contextlib
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pipeline.serve.server import DigestHTTPServer, bind
from pipeline.serve.service import Service
from pipeline.settings import Settings

NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass
class Reply:
    status: int
    headers: Any
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


def call(
    url: str,
    *,
    data: bytes | None = None,
    method: str | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with NO_PROXY.open(request, timeout=60) as resp:
            return Reply(resp.status, resp.headers, resp.read())
    except urllib.error.HTTPError as exc:
        return Reply(exc.code, exc.headers, exc.read())


def post_json(url: str, body: Any, **kw: Any) -> Reply:
    return call(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json", **kw})


@contextlib.contextmanager
def running(settings: Settings, llm: Any = None) -> Iterator[DigestHTTPServer]:
    service = Service(settings, llm=llm, warm=False)
    server = bind("127.0.0.1", 0, service)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        service.close()
