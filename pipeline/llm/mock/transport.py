"""The mock in-process: an ``httpx`` transport that routes requests to a ``MockLLM``, and the
process-wide mock of an output folder."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import httpx

from ...store.layout import OutDir
from .server import MockLLM, MockTimeout

if TYPE_CHECKING:
    from ...settings import Settings

BASE_URL = "http://mock-llm.invalid/v1"  # what the SDK is pointed at; never resolved


class MockTransport(httpx.BaseTransport):
    """Routes an ``httpx.Client``'s requests to a ``MockLLM`` without sockets."""

    def __init__(self, mock: MockLLM) -> None:
        self.mock = mock

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        try:
            status, headers, payload = self.mock.handle(
                request.method, request.url.raw_path.decode(), dict(request.headers), body
            )
        except MockTimeout:
            raise httpx.ReadTimeout("mock LLM timed out", request=request) from None
        return httpx.Response(status, headers=headers, content=payload, request=request)


_DEFAULT_MOCKS: dict[tuple[str, str], MockLLM] = {}
_DEFAULT_LOCK = threading.Lock()


def get_default_mock(settings: Settings) -> MockLLM:
    """The process-wide mock for this fault spec and output folder."""
    state_dir = OutDir(settings.out_dir).mock_state_dir.resolve()
    key = (settings.llm.mock_faults, str(state_dir))
    with _DEFAULT_LOCK:
        if key not in _DEFAULT_MOCKS:
            _DEFAULT_MOCKS[key] = MockLLM(settings.llm.mock_faults, state_dir=state_dir)
        return _DEFAULT_MOCKS[key]
