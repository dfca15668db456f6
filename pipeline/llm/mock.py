"""A deterministic, offline OpenAI-compatible server for tests and ``--llm mock``.

``MockLLM.handle`` speaks the wire protocol (chat completions with structured output
and streaming, embeddings, models, files and batches); ``MockTransport`` plugs it into
an ``httpx.Client`` in-process, and ``mock_server.serve`` puts it behind a real port.
Everything above HTTP is the real ``openai`` SDK.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import struct
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from ..store.layout import OutDir
from .faults import FaultDecider, FaultPlan, parse_fault_spec
from .mock_tasks import (
    EMBED_DIMS,
    detect_task,
    embed_text,
    find_schema,
    metadata_reply,
    qa_reply,
    system_text,
    text_reply,
    translate_reply,
)
from .tokens import count_message_tokens, count_tokens, get_encoding

if TYPE_CHECKING:
    from ..settings import Settings

log = logging.getLogger(__name__)

CHAT_MODELS = ("gpt-4o-mini", "gpt-4o", "gpt-4.1-mini", "mock-chat")
EMBED_MODELS = ("text-embedding-3-small", "mock-embed")
REFUSAL_TEXT = "I'm sorry, but I can't help with that request."
KOREAN_TEXT = "죄송하지만 이 내용은 한국어로만 답변할 수 있습니다."

Reply = tuple[int, dict[str, str], bytes]


class MockTimeout(Exception):
    """Raised by ``handle`` for a "timeout" fault; transports turn it into a real timeout."""


class MockLLM:
    """Thread-safe fake of an OpenAI-compatible server."""

    def __init__(
        self,
        faults: FaultPlan | str | None = None,
        *,
        state_dir: Path | None = None,
        reject_json_schema: bool = False,
        api_key: str | None = None,
        models: tuple[str, ...] | None = None,
    ) -> None:
        plan = parse_fault_spec(faults) if isinstance(faults, str) or faults is None else faults
        self.faults = FaultDecider(plan)
        self.state_dir = Path(state_dir) if state_dir else None
        self.reject_json_schema = reject_json_schema
        self.api_key = api_key  # when set, other keys get 401 (like OpenAI)
        self.chat_models = tuple(models) if models else CHAT_MODELS
        self._lock = threading.Lock()
        self._stats = self._empty_stats()
        self._batches: Any = None

    # -- stats ----------------------------------------------------------------------------

    @staticmethod
    def _empty_stats() -> dict[str, Any]:
        return {
            "total": 0,
            "by_endpoint": Counter(),
            "by_task": Counter(),
            "by_status": Counter(),
            "faults": Counter(),
            "prompt_tokens": 0,
            "completion_tokens": 0,
        }

    @property
    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {k: (dict(v) if isinstance(v, Counter) else v) for k, v in self._stats.items()}

    def reset_stats(self) -> None:
        with self._lock:
            self._stats = self._empty_stats()

    def _count(self, key: str, value: str, n: int = 1) -> None:
        with self._lock:
            self._stats[key][value] += n

    def script(self, items: list[str]) -> None:
        """Queue exact outcomes for the next chat requests: "429", "500", "timeout",
        "malformed", "truncate", "korean", "refusal" or "ok"."""
        self.faults.script(items)

    # -- routing --------------------------------------------------------------------------

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        path = path.split("?", 1)[0].rstrip("/")
        if path.startswith("/v1"):
            path = path[3:]
        endpoint = _endpoint_name(method, path)
        with self._lock:
            self._stats["total"] += 1
            self._stats["by_endpoint"][endpoint] += 1
        reply = self._route(method, path, {k.lower(): v for k, v in headers.items()}, body, endpoint)
        self._count("by_status", str(reply[0]))
        return reply

    def _route(self, method: str, path: str, headers: dict[str, str], body: bytes, endpoint: str) -> Reply:
        if endpoint == "stats":
            return _json(200, self.stats)
        if self.api_key is not None:
            given = headers.get("authorization", "").removeprefix("Bearer ").strip()
            if given != self.api_key:
                return _error(
                    401, f"Incorrect API key provided: {given}.", "invalid_api_key", "invalid_request_error"
                )
        if endpoint == "chat":
            return self._chat(headers, body)
        if endpoint == "embeddings":
            return self._embeddings(body)
        if endpoint == "models":
            return _json(200, {"object": "list", "data": [_model(m) for m in self.all_models()]})
        if endpoint == "model":
            name = path.split("/models/", 1)[1]
            if name in self.all_models():
                return _json(200, _model(name))
            return _unknown_model(name)
        if endpoint.startswith(("files", "file", "batch")):
            return self.batch_store().route(method, path, headers, body)
        return _error(404, f"Unknown request URL: {method} /v1{path}", "unknown_url", "invalid_request_error")

    def all_models(self) -> tuple[str, ...]:
        return (*self.chat_models, *EMBED_MODELS)

    def batch_store(self) -> Any:
        from .mock_batch import BatchStore

        with self._lock:
            if self._batches is None:
                self._batches = BatchStore(self, self.state_dir)
            return self._batches

    # -- chat completions ---------------------------------------------------------------------

    def _chat(self, headers: dict[str, str], body: bytes) -> Reply:
        try:
            req = json.loads(body or b"{}")
        except json.JSONDecodeError:
            return _error(
                400, "We could not parse the JSON body of your request.", None, "invalid_request_error"
            )
        model = req.get("model")
        if model not in self.chat_models:
            return _unknown_model(str(model))
        messages = req.get("messages")
        if not isinstance(messages, list) or not messages:
            return _error(
                400, "'messages' must be a non-empty array.", None, "invalid_request_error", "messages"
            )
        fault = self.faults.decide("chat", body)
        plan = self.faults.plan
        if plan.latency_ms and "chat" in plan.endpoints:
            time.sleep(plan.latency_ms / 1000)
        if fault:
            self._count("faults", fault)
        if fault == "429":
            return _error(
                429,
                "Rate limit reached for requests (mock).",
                "rate_limit_exceeded",
                "requests",
                headers=_retry_after(plan.retry_after_ms),
            )
        if fault == "500":
            return _error(
                500,
                "The server had an error while processing your request (mock).",
                None,
                "server_error",
                headers=_retry_after(plan.retry_after_ms),
            )
        if fault == "timeout":
            raise MockTimeout("mock timeout")
        rf = req.get("response_format") or None
        if rf and rf.get("type") == "json_schema" and self.reject_json_schema:
            return _error(
                400,
                "response_format type 'json_schema' is not supported by this server",
                None,
                "invalid_request_error",
                "response_format",
            )
        status, payload = self.complete(req, fault=fault)
        if status != 200:
            return _json(status, payload)
        if req.get("stream"):
            include_usage = bool((req.get("stream_options") or {}).get("include_usage"))
            return 200, {"content-type": "text/event-stream"}, _sse(payload, include_usage)
        return _json(200, payload)

    def complete(self, req: dict[str, Any], *, fault: str | None = None) -> tuple[int, dict[str, Any]]:
        """A chat completion object for a request body (also used by batches)."""
        model = req.get("model", "mock-chat")
        messages = req.get("messages") or []
        rf = req.get("response_format") or None
        task, user = detect_task(messages)
        self._count("by_task", task)
        system = system_text(messages)
        wants_json = bool(rf and rf.get("type") in ("json_schema", "json_object"))
        if task == "translate":
            content = translate_reply(user, korean=fault == "korean")
        elif task == "metadata" or (wants_json and task == "text"):
            content = metadata_reply(user, find_schema(rf, system))
            if fault == "korean":
                content = json.dumps(_koreanize(json.loads(content)), ensure_ascii=False)
        elif task == "qa":
            content = KOREAN_TEXT if fault == "korean" else qa_reply(user, system)
        else:
            content = KOREAN_TEXT if fault == "korean" else text_reply(user)

        finish, refusal = "stop", None
        if fault == "malformed":
            content = (
                content[: max(1, len(content) // 2)] + '", "' if content.startswith("{") else "{" + content
            )
        elif fault == "truncate":
            content, finish = content[: max(1, len(content) // 2)], "length"
        elif fault == "refusal":
            content, refusal = None, REFUSAL_TEXT
        limit = req.get("max_completion_tokens") or req.get("max_tokens")
        if content and limit:
            enc = get_encoding(model)
            toks = enc.encode(content, disallowed_special=())
            if len(toks) > int(limit):
                content, finish = enc.decode(toks[: int(limit)]), "length"
        prompt_tokens = count_message_tokens(messages, model)
        completion_tokens = count_tokens(content or refusal or "", model)
        with self._lock:
            self._stats["prompt_tokens"] += prompt_tokens
            self._stats["completion_tokens"] += completion_tokens
        return 200, {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "system_fingerprint": "fp_mock",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content, "refusal": refusal},
                    "logprobs": None,
                    "finish_reason": finish,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }

    # -- embeddings -----------------------------------------------------------------------------

    def _embeddings(self, body: bytes) -> Reply:
        try:
            req = json.loads(body or b"{}")
        except json.JSONDecodeError:
            return _error(
                400, "We could not parse the JSON body of your request.", None, "invalid_request_error"
            )
        model = req.get("model")
        if model not in EMBED_MODELS:
            return _unknown_model(str(model))
        inputs = req.get("input")
        if isinstance(inputs, str) or (isinstance(inputs, list) and inputs and isinstance(inputs[0], int)):
            inputs = [inputs]
        if not isinstance(inputs, list) or not inputs:
            return _error(
                400, "'input' must be a non-empty string or array.", None, "invalid_request_error", "input"
            )
        dims = int(req.get("dimensions") or EMBED_DIMS)
        enc = get_encoding(model)
        data, tokens = [], 0
        for i, item in enumerate(inputs):
            text = enc.decode(item) if isinstance(item, list) else str(item)
            tokens += count_tokens(text, model)
            vec = embed_text(text, dims)
            if req.get("encoding_format") == "base64":
                emb: Any = base64.b64encode(struct.pack(f"<{len(vec)}f", *vec)).decode()
            else:
                emb = vec
            data.append({"object": "embedding", "index": i, "embedding": emb})
        with self._lock:
            self._stats["prompt_tokens"] += tokens
        return _json(
            200,
            {
                "object": "list",
                "data": data,
                "model": model,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            },
        )


# -- in-process transport -------------------------------------------------------------------------


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


# -- wire helpers ---------------------------------------------------------------------------------


def _endpoint_name(method: str, path: str) -> str:
    if path == "/chat/completions":
        return "chat"
    if path == "/embeddings":
        return "embeddings"
    if path == "/models":
        return "models"
    if path.startswith("/models/"):
        return "model"
    if path == "/mock/stats":
        return "stats"
    if path == "/files":
        return "files"
    if path.startswith("/files/"):
        return "file_content" if path.endswith("/content") else "file"
    if path.startswith("/batches"):
        return "batches"
    return "other"


def _json(status: int, payload: Any, headers: dict[str, str] | None = None) -> Reply:
    h = {"content-type": "application/json", "x-request-id": f"req_{uuid.uuid4().hex[:16]}"}
    h.update(headers or {})
    return status, h, json.dumps(payload, ensure_ascii=False).encode()


def _error(
    status: int,
    message: str,
    code: str | None,
    typ: str,
    param: str | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    return _json(status, {"error": {"message": message, "type": typ, "param": param, "code": code}}, headers)


def _unknown_model(name: str) -> Reply:
    return _error(
        404,
        f"The model `{name}` does not exist or you do not have access to it.",
        "model_not_found",
        "invalid_request_error",
    )


def _retry_after(ms: int) -> dict[str, str]:
    return {"retry-after-ms": str(ms), "retry-after": str(max(0.001, ms / 1000))}


def _model(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": 1700000000, "owned_by": "mock"}


def _koreanize(value: Any) -> Any:
    if isinstance(value, str):
        return KOREAN_TEXT
    if isinstance(value, list):
        return [_koreanize(v) for v in value]
    if isinstance(value, dict):
        return {k: _koreanize(v) for k, v in value.items()}
    return value


def _sse(payload: dict[str, Any], include_usage: bool) -> bytes:
    choice = payload["choices"][0]
    base = {k: payload[k] for k in ("id", "created", "model", "system_fingerprint")}
    base["object"] = "chat.completion.chunk"
    content = choice["message"]["content"] or ""
    pieces = re.findall(r"\S+\s*|\s+", content) or [""]
    events = [
        {
            **base,
            "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}],
        }
    ]
    for i in range(0, len(pieces), 3):
        events.append(
            {
                **base,
                "choices": [
                    {"index": 0, "delta": {"content": "".join(pieces[i : i + 3])}, "finish_reason": None}
                ],
            }
        )
    if choice["message"].get("refusal"):
        events.append(
            {
                **base,
                "choices": [
                    {"index": 0, "delta": {"refusal": choice["message"]["refusal"]}, "finish_reason": None}
                ],
            }
        )
    events.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": choice["finish_reason"]}]})
    if include_usage:
        events.append({**base, "choices": [], "usage": payload["usage"]})
    out = b"".join(b"data: " + json.dumps(e, ensure_ascii=False).encode() + b"\n\n" for e in events)
    return out + b"data: [DONE]\n\n"
