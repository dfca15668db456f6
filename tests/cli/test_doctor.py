"""``digest doctor`` through its entry point: against the mock, a replayed llama-cpp-python,
an unknown model and a dead port."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

from click.testing import CliRunner

from pipeline.cli import main
from pipeline.llm.mock import MockLLM
from pipeline.llm.mock.http import serve
from tests.paths import FIXTURES

QUIRKS = FIXTURES / "quirks"


def test_doctor_against_the_mock_then_cached_then_refreshed(tmp_path: Path) -> None:
    runner = CliRunner()
    out = str(tmp_path / "out")
    res = runner.invoke(main, ["doctor", "--llm", "mock", "--out", out])
    assert res.exit_code == 0, res.output
    text = res.output
    assert re.search(r"^models\s+.*gpt-4o-mini", text, re.M)
    assert re.search(r"^  json_schema\s+yes, valid and constrained by the schema", text, re.M)
    assert re.search(r"^  json_object \+ schema\s+yes", text, re.M)
    assert re.search(r"^system messages\s+kept", text, re.M)
    assert re.search(r"^speed\s+[\d.]+ tokens/s", text, re.M)
    assert "recommended settings (digest.toml):\n[llm]" in text and 'json_mode = "json_schema"' in text
    res = runner.invoke(main, ["doctor", "--llm", "mock", "--out", out])
    assert "(cached: --refresh to probe again)" in res.output
    res = runner.invoke(main, ["doctor", "--llm", "mock", "--out", out, "--json"])
    report = json.loads(res.stdout)
    assert res.exit_code == 0 and report["usable"] and report["cached"]
    assert report["capabilities"]["structured_mode"] == "json_schema"
    res = runner.invoke(main, ["doctor", "--llm", "mock", "--out", out, "--refresh"])
    assert res.exit_code == 0 and "(cached: --refresh to probe again)" not in res.output


def test_doctor_reports_what_llama_cpp_python_does(tmp_path: Path) -> None:
    """The server's own replies, replayed: json_schema refused with HTTP 500, system messages
    dropped, the window from the over-long prompt's error; the recommended settings follow."""
    mock = MockLLM(models=("gemma3-270m.gguf",))
    for name in (
        "observed_models_llama_cpp_python",
        "observed_props_404_llama_cpp_python",
        "observed_openapi_llama_cpp_python",
        "observed_response_format_500_llama_cpp_python",
    ):
        mock.replay(QUIRKS / f"{name}.json")
    mock.replay(QUIRKS / "observed_system_message_dropped_llama_cpp_python.json", when=_tiny)
    mock.replay(QUIRKS / "observed_system_message_dropped_llama_cpp_python.json", when=_tiny)
    mock.replay(
        QUIRKS / "observed_context_length_400_llama_cpp_python.json", when=lambda r: len(str(r)) > 10**5
    )
    with serve(mock=mock) as server:
        res = CliRunner().invoke(main, ["doctor", "--base-url", server.url, "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    text = res.output
    assert "(llama-cpp-python 0.3.36)" in text and "prices           local endpoint: $0" in text
    assert re.search(r"^model\s+gemma3-270m\.gguf$", text, re.M)  # the only model it serves
    assert re.search(r"^  json_schema\s+no: HTTP 500: .*Input should be 'text' or 'json_object'", text, re.M)
    assert re.search(r"^  using\s+json_object \+ schema$", text, re.M)
    assert re.search(r"^system messages\s+IGNORED by the server: folded into the user message", text, re.M)
    assert re.search(r"^context window\s+512 tokens \(the error to an over-long prompt", text, re.M)
    for line in (
        'json_mode = "json_object_schema"',
        'system_role = "fold"',
        "concurrency = 1",
        "max_retries = 1",
    ):
        assert line in text
    assert "[translate]\nbatch_tokens = " in text  # a 512-token window needs small batches


def _tiny(request: dict) -> bool:
    return request.get("max_tokens") == 1 and len(str(request)) < 1000


def test_doctor_exit_codes_for_a_wrong_model_and_a_dead_port(tmp_path: Path) -> None:
    runner = CliRunner()
    with serve(mock=MockLLM()) as server:
        res = runner.invoke(
            main, ["doctor", "--base-url", server.url, "--model", "gpt-9", "--out", str(tmp_path)]
        )
    assert res.exit_code == 2
    assert "unknown model 'gpt-9'" in res.output and "gpt-4o-mini" in res.output
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    res = runner.invoke(main, ["doctor", "--base-url", f"http://127.0.0.1:{port}/v1", "--out", str(tmp_path)])
    assert res.exit_code == 4 and f"cannot reach the LLM endpoint at 127.0.0.1:{port}" in res.output
