"""``digest serve``: hold the output folder, load its index and models once, answer HTTP until
SIGTERM or SIGINT, then finish the requests in flight, remove ``serve.json`` and exit 0.

The folder is held with the output lock (``store/lock.py``) for the server's whole life: a
``digest run``/``index``/... on it is refused while it serves (stop the server to update the
folder), and the server refuses to start on a folder a run is writing.  Reading commands
(``search``, ``ask``) take no lock and are unaffected.
"""

from __future__ import annotations

import ipaddress
import logging
import signal
import socket
import threading
from collections.abc import Callable
from http.server import ThreadingHTTPServer
from types import FrameType
from typing import Any

from ..errors import ConfigError
from ..settings import Settings
from ..store.lock import output_lock
from .discovery import remove_serve_info, write_serve_info
from .handler import LOOPBACK_NAMES, Handler
from .page import Page
from .service import Service

log = logging.getLogger(__name__)


def is_loopback(host: str) -> bool:
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_host(host: str, allow_remote: bool) -> None:
    """Loopback only, unless ``allow_remote``: the API has no authentication."""
    if is_loopback(host):
        return
    if not allow_remote:
        raise ConfigError(
            f"refusing to listen on {host}: it is not a loopback address and the API has no "
            "authentication; pass --allow-remote to do it anyway"
        )
    log.warning(
        "listening on %s: anyone who can reach it can search and ask (spending your LLM budget); "
        "there is no authentication",
        host,
    )


class DigestHTTPServer(ThreadingHTTPServer):
    daemon_threads = False  # shutdown waits for the requests in flight
    block_on_close = True

    def __init__(self, address: tuple[str, int], service: Service, hosts: set[str] | None) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, Handler)
        self.service = service
        self.page = Page(service.settings.templates_dir)
        self.hosts = hosts
        host, port = self.server_address[:2]
        shown = "127.0.0.1" if host in ("0.0.0.0", "") else ("[::1]" if host == "::" else host)  # noqa: S104
        if ":" in shown and not shown.startswith("["):
            shown = f"[{shown}]"
        self.url = f"http://{shown}:{port}"


def bind(host: str, port: int, service: Service) -> DigestHTTPServer:
    # on loopback, only its own names (no DNS rebinding); a remote server (--allow-remote)
    # answers whatever name or address it was reached by
    hosts = set(LOOPBACK_NAMES) | {host.lower(), f"[{host.lower()}]"} if is_loopback(host) else None
    try:
        return DigestHTTPServer((host, port), service, hosts)
    except OSError as exc:
        raise ConfigError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc} (choose another --port)"
        ) from None


def serve(
    settings: Settings,
    *,
    host: str | None = None,
    port: int | None = None,
    allow_remote: bool = False,
    llm: Any = None,
    on_ready: Callable[[str, Service], None] | None = None,
) -> int:
    """Serve ``settings.out_dir`` until SIGTERM / SIGINT; returns the exit status (0)."""
    host = host or settings.serve.host
    port = settings.serve.port if port is None else port
    check_host(host, allow_remote)
    with output_lock(settings.out_dir, holder="serve"):
        log.info("loading the index and models of %s", settings.out_dir)
        service = Service(settings, llm=llm)
        server = bind(host, port, service)
        stopping = threading.Event()

        def stop(signum: int, frame: FrameType | None) -> None:
            if not stopping.is_set():
                stopping.set()
                log.info("%s: finishing the requests in flight", signal.Signals(signum).name)
                threading.Thread(target=server.shutdown, daemon=True).start()

        previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            write_serve_info(settings, server.url)
            if on_ready is not None:
                on_ready(server.url, service)
            server.serve_forever(poll_interval=0.2)
        finally:
            remove_serve_info(settings)
            server.server_close()  # joins the request threads
            service.close()
            for s, handler in previous.items():
                signal.signal(s, handler)
    log.info("stopped")
    return 0
