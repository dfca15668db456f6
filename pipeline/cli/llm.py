"""CLI commands: mock-llm (the offline OpenAI-compatible server), models."""

from __future__ import annotations

import click

from ..store.layout import OutDir
from .options import build_settings, config_option, endpoint_options, out_option


@click.command("mock-llm")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind (keep it loopback).")
@click.option("--port", type=int, default=8787, show_default=True, help="Port (0: any free port).")
@click.option("--faults", default=None, help='Fault spec, e.g. "rate=0.3,kinds=429+500+timeout,seed=7".')
@click.option(
    "--reject-json-schema", is_flag=True, help="Answer json_schema requests with 400 (like llama.cpp)."
)
@click.option(
    "--state-dir",
    type=click.Path(),
    default=None,
    help="Where files/batches persist (default: OUT/.mock-llm).",
)
@config_option
@out_option
def mock_llm_cmd(
    host: str, port: int, faults: str | None, reject_json_schema: bool, state_dir: str | None, **opts: object
) -> None:
    """Run the deterministic offline mock LLM server in the foreground (Ctrl-C stops it)."""
    from pathlib import Path

    from ..llm.mock import MockLLM
    from ..llm.mock.http import make_server

    settings = build_settings(**opts)  # type: ignore[arg-type]
    spec = settings.llm.mock_faults if faults is None else faults
    mock = MockLLM(
        spec,
        state_dir=Path(state_dir) if state_dir else OutDir(settings.out_dir).mock_state_dir,
        reject_json_schema=reject_json_schema,
    )
    server = make_server(host, port, mock)
    click.echo(f"mock LLM listening on {server.url}  (use --llm mock --base-url {server.url})", err=False)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.httpd.server_close()


@click.command("models")
@config_option
@out_option
@endpoint_options
def models_cmd(**opts: object) -> None:
    """List the models the configured endpoint serves (checks URL and key)."""
    from ..llm import make_llm

    settings = build_settings(pick_model=False, **opts)  # type: ignore[arg-type]
    # a quick check: an endpoint that is down is reported in seconds, not after every retry
    settings.llm.max_retries = min(settings.llm.max_retries, 1)
    for name in make_llm(settings).list_models():
        click.echo(name)


COMMANDS = [mock_llm_cmd, models_cmd]
