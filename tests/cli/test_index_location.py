"""The output folder remembers where its index is (OUT/index.json, written by `digest index`):
later commands use the same Chroma server and embeddings without being told, and say so.
(The round trip through a real Chroma server: tests/stages/index/test_index.py.)"""

from __future__ import annotations

import json
import socket
from pathlib import Path

from click.testing import CliRunner

from pipeline.cli import main
from tests.cli.everyday import make_everyday_out

ENV = {"DIGEST_LLM__PROVIDER": "mock", "DIGEST_PROGRESS": "off"}
QUERY = "video diffusion on phones"


def invoke(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(main, list(args), env={**ENV, **(env or {})})


def test_index_records_where_it_is_and_later_commands_use_it(tmp_path: Path) -> None:
    out = make_everyday_out(tmp_path, via_cli_index=True).out_dir
    indexed = invoke("index", "--embedding", "endpoint", "--out", str(out))
    assert indexed.exit_code == 0, indexed.output
    recorded = json.loads((out / "index.json").read_text())
    assert recorded["chroma_url"] is None and recorded["embedding"] == "endpoint" and recorded["collection"]

    # no --embedding, no DIGEST_INDEX__EMBEDDING: the recorded embeddings are used, and said so
    found = invoke("search", QUERY, "--json", "--out", str(out))
    assert found.exit_code == 0, found.output
    assert json.loads(found.stdout)[0]["arxiv_id"] == "2410.20002"
    assert "using the endpoint embeddings the index was built with" in found.stderr
    shown = json.loads(invoke("config", "--show-origin", "--json", "--out", str(out)).stdout)
    assert shown["index.embedding"] == {"value": "endpoint", "origin": f"recorded in {out / 'index.json'}"}
    assert shown["index.chroma_url"]["origin"] == "default"
    # an explicit setting still wins over the record
    explicit = json.loads(
        invoke(
            "config", "--show-origin", "--json", "--out", str(out), env={"DIGEST_INDEX__EMBEDDING": "local"}
        ).stdout
    )
    assert explicit["index.embedding"] == {"value": "local", "origin": "env DIGEST_INDEX__EMBEDDING"}


def test_a_recorded_server_is_used_until_told_otherwise(tmp_path: Path) -> None:
    out = make_everyday_out(tmp_path).out_dir
    with socket.socket() as s:  # a port nothing listens on: the server "went away"
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"
    location = json.loads((out / "index.json").read_text())
    (out / "index.json").write_text(json.dumps({**location, "chroma_url": url}))

    result = invoke("search", QUERY, "--out", str(out))
    assert result.exit_code == 2 and "cannot reach the Chroma server" in result.output
    assert f"using the Chroma server {url} recorded in {out / 'index.json'}" in result.stderr
    embedded = invoke("search", QUERY, "--chroma-url", "", "--json", "--out", str(out))  # back to OUT/chroma
    assert embedded.exit_code == 0, embedded.output
    assert json.loads(embedded.stdout)[0]["arxiv_id"] == "2410.20002"
    reindexed = invoke("index", "--chroma-url", "", "--out", str(out))
    assert reindexed.exit_code == 0, reindexed.output
    assert json.loads((out / "index.json").read_text())["chroma_url"] is None
    assert invoke("search", QUERY, "--out", str(out)).exit_code == 0
