"""CLI command: serve (and the --server / --no-server options of search and ask)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from .options import build_settings, chat_options, config_option, out_option
from .retrieval import chroma_option


def server_options(f: Callable[..., Any]) -> Callable[..., Any]:
    f = click.option(
        "--no-server",
        is_flag=True,
        help="Run in this process even when a `digest serve` for this folder is running.",
    )(f)
    return click.option(
        "--server",
        "server_url",
        metavar="URL",
        default=None,
        help="Use the `digest serve` at URL (default: the one OUT/serve.json names, when it "
        "answers and has the same settings; else run in this process).",
    )(f)


@click.command("serve")
@click.option("--host", default=None, help="Address to listen on (default 127.0.0.1: this machine only).")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=None, help="Port (default 8765; 0: any free port)."
)
@click.option(
    "--allow-remote",
    is_flag=True,
    help="Allow a --host other than loopback. The API has no authentication: anyone who reaches it can ask.",
)
@click.option(
    "--openapi", "print_openapi", is_flag=True, help="Print the API's OpenAPI 3.1 document and exit."
)
@config_option
@out_option
@chroma_option
@chat_options
def serve_cmd(
    host: str | None,
    port: int | None,
    allow_remote: bool,
    print_openapi: bool,
    chroma_url: str | None,
    **opts: Any,
) -> None:
    """Serve the folder's search and ask over HTTP, with the index and models loaded once.

    A JSON API (GET /api/search, POST /api/ask, GET /api/entries/ID, GET /api/newsletters,
    GET /api/health; OpenAPI 3.1 at /openapi.json) and a web page at /.  `digest search`
    and `digest ask` on the same folder use it (found through OUT/serve.json).  The server
    holds the folder: runs that write it are refused until it stops (Ctrl-C or SIGTERM)."""
    if print_openapi:
        import json

        from ..serve.openapi import openapi_document
        from ..serve.service import package_version

        click.echo(json.dumps(openapi_document(package_version()), indent=2, ensure_ascii=False))
        return
    from ..serve.server import serve

    settings = build_settings(**opts, index={"chroma_url": chroma_url}, serve={"host": host, "port": port})

    def ready(url: str, service: Any) -> None:
        docs = service.health().documents
        click.echo(f"serving {settings.out_dir} ({docs} papers) at {url}/  (Ctrl-C to stop)", err=True)

    serve(settings, allow_remote=allow_remote, on_ready=ready)


COMMANDS = [serve_cmd]
