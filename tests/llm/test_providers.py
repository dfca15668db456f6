"""The provider registry: names defined once, modules imported on use; Azure OpenAI through
the real SDK against the mock (the request path and query the SDK builds)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from pydantic import BaseModel

from pipeline.errors import ConfigError
from pipeline.llm import make_llm
from pipeline.llm.mock import MockLLM, MockTransport
from pipeline.llm.registry import PROVIDERS, get_provider, provider_names
from pipeline.settings import load_settings
from tests.paths import ROOT

ENDPOINT = "https://my-resource.openai.azure.com"
KEY = "azure-key-0123456789"


class Capture(httpx.BaseTransport):
    """Keeps each request the SDK sends, then lets the mock answer it."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.inner.handle_request(request)


class Facts(BaseModel):
    tldr: str
    keywords: list[str]


def _azure(tmp_path: Path, **llm: object):
    cfg = {"provider": "azure", "azure_endpoint": ENDPOINT, "api_key": KEY, "max_retries": 0, **llm}
    return load_settings(None, out_dir=tmp_path, cache_dir=tmp_path / "cache", llm=cfg)


def test_names_come_from_the_registry() -> None:
    assert provider_names() == tuple(PROVIDERS) and {"openai", "azure", "mock"} <= set(provider_names())
    with pytest.raises(ConfigError, match="unknown LLM provider 'nope'"):
        get_provider("nope")
    with pytest.raises(ConfigError, match="unknown LLM provider 'nope'; known: openai, azure, mock"):
        load_settings(None, llm={"provider": "nope"})


def test_azure_requests_go_to_deployments_with_the_api_version(tmp_path: Path) -> None:
    settings = _azure(tmp_path, chat_model="gpt-4o-mini", api_version="2024-10-21")
    capture = Capture(MockTransport(MockLLM(api_key=KEY)))
    llm = make_llm(settings, transport=capture)
    assert llm.host == "my-resource.openai.azure.com"

    comp = llm.complete([{"role": "user", "content": "Say something about LoRA."}])
    assert comp.text and comp.finish_reason == "stop"
    res = llm.complete_json(
        [{"role": "user", "content": '<paper id="1">LoRA tunes 0.1% of weights.</paper>'}],
        Facts,
        schema_name="facts",
    )
    assert res.ok and res.value is not None
    llm.embed(["a text"])

    chat, structured, embed = capture.requests
    assert chat.url.host == "my-resource.openai.azure.com"
    assert chat.url.path == "/openai/deployments/gpt-4o-mini/chat/completions"
    assert chat.url.params["api-version"] == "2024-10-21"
    assert chat.headers["api-key"] == KEY and "authorization" not in chat.headers
    assert structured.url.path == chat.url.path
    assert embed.url.path == "/openai/deployments/text-embedding-3-small/embeddings"


def test_azure_batch_files_use_the_resource_paths(tmp_path: Path) -> None:
    from pipeline.llm import batch_api

    capture = Capture(MockTransport(MockLLM(api_key=KEY, state_dir=tmp_path / "mock")))
    llm = make_llm(_azure(tmp_path), transport=capture)
    line = batch_api.request_line("x", llm.chat_body([{"role": "user", "content": "hi"}]))
    file_id = batch_api.upload_requests(llm, [line])
    assert file_id.startswith("file-")
    (upload,) = capture.requests
    assert upload.url.path == "/openai/files" and upload.url.params["api-version"] == "2024-10-21"


def test_azure_needs_an_endpoint_and_a_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="needs llm.azure_endpoint"):
        make_llm(load_settings(None, out_dir=tmp_path, llm={"provider": "azure", "api_key": KEY}))
    with pytest.raises(ConfigError, match="no API key for Azure OpenAI"):
        make_llm(load_settings(None, out_dir=tmp_path, llm={"provider": "azure", "azure_endpoint": ENDPOINT}))
    with pytest.raises(ConfigError, match="azure_endpoint must start with http"):
        load_settings(None, llm={"provider": "azure", "azure_endpoint": "my-resource"})


def test_the_mock_is_loaded_only_when_chosen(tmp_path: Path) -> None:
    """``import pipeline.cli`` and an openai (or azure) client load no module of the mock."""
    code = (
        "import sys\n"
        "import pipeline.cli\n"
        "def mock(): return sorted(m for m in sys.modules if m.startswith('pipeline') and '.mock' in m)\n"
        "assert not mock(), mock()\n"
        "from pipeline.llm import make_llm\n"
        "from pipeline.settings import load_settings\n"
        f"for p in ('openai', 'azure'):\n"
        f"    make_llm(load_settings(None, cache_dir={str(tmp_path)!r}, llm={{'provider': p, "
        f"'api_key': 'sk-0123456789abcdef', 'azure_endpoint': {ENDPOINT!r}}}))\n"
        "assert not mock(), mock()\n"
        f"make_llm(load_settings(None, out_dir={str(tmp_path)!r}, cache_dir={str(tmp_path)!r}, "
        "llm={'provider': 'mock'}))\n"
        "assert 'pipeline.llm.mock.server' in mock()\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
