"""A deterministic, offline OpenAI-compatible server for tests and ``--llm mock``.

``MockLLM.handle`` speaks the wire protocol (chat completions with structured output
and streaming, embeddings, models, files and batches); ``transport.MockTransport`` plugs
it into an ``httpx.Client`` in-process, and ``http.serve`` puts it behind a real port.
Everything above HTTP is the real ``openai`` SDK.  A :class:`~.recorder.Recorder` keeps
what it was sent and may steer its replies (tests).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from ..tokens import count_message_tokens, count_tokens, get_encoding
from .adversary import misbehave
from .batch_store import BatchStore
from .embed import embeddings_reply
from .faults import FaultDecider, FaultPlan, damage_reply, parse_fault_spec
from .query import query_reply
from .recorder import Recorder
from .replay import Replayer
from .tasks import (
    detect_task,
    find_schema,
    koreanize,
    metadata_reply,
    qa_reply,
    system_text,
    text_of,
    text_reply,
    translate_reply,
)
from .wire import (
    Reply,
    endpoint_name,
    error_reply,
    json_reply,
    model_object,
    retry_after,
    sse_events,
    unknown_model,
)

log = logging.getLogger(__name__)

CHAT_MODELS = ("gpt-4o-mini", "gpt-4o", "gpt-4.1-mini", "mock-chat")
EMBED_MODELS = ("text-embedding-3-small", "mock-embed")
REFUSAL_TEXT = "I'm sorry, but I can't help with that request."
KOREAN_TEXT = "죄송하지만 이 내용은 한국어로만 답변할 수 있습니다."
_AZURE_PREFIX = re.compile(r"^/openai(?:/deployments/[^/]+)?(?=/)")


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
        recorder: Recorder | None = None,
    ) -> None:
        plan = parse_fault_spec(faults) if isinstance(faults, str) or faults is None else faults
        self.faults = FaultDecider(plan)
        self.state_dir = Path(state_dir) if state_dir else None
        self.reject_json_schema = reject_json_schema
        self.api_key = api_key  # when set, other keys get 401 (like OpenAI)
        self.chat_models = tuple(models) if models else CHAT_MODELS
        self.recorder = recorder
        self._lock = threading.Lock()
        self._stats = self._empty_stats()
        self._batches: BatchStore | None = None
        self.replayer = Replayer()
        for fixture in plan.replay:
            self.replayer.add(fixture)

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

    def replay(self, fixture: dict[str, Any] | str | Path, times: int = 1, **target: Any) -> None:
        """Answer the next ``times`` matching requests with a recorded reply (``replay.py``)."""
        self.replayer.add(fixture, times=times, **target)

    def script(self, items: list[str]) -> None:
        """Queue exact outcomes for the next chat requests: "429", "500", "timeout",
        "malformed", "truncate", "korean", "refusal" or "ok"."""
        self.faults.script(items)

    # -- routing --------------------------------------------------------------------------

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        path = path.split("?", 1)[0].rstrip("/")
        path = _AZURE_PREFIX.sub("", path)  # Azure: /openai[/deployments/<name>]/chat/completions
        if path.startswith("/v1"):
            path = path[3:]
        endpoint = endpoint_name(method, path)
        with self._lock:
            self._stats["total"] += 1
            self._stats["by_endpoint"][endpoint] += 1
        reply = self.replayer.take(method, path, body)
        if reply is not None:
            self._count("faults", "replay")
            if endpoint == "chat" and self.recorder is not None:
                self.recorder.received(json.loads(body or b"{}"))
        else:
            reply = self._route(method, path, {k.lower(): v for k, v in headers.items()}, body, endpoint)
        self._count("by_status", str(reply[0]))
        return reply

    def _route(self, method: str, path: str, headers: dict[str, str], body: bytes, endpoint: str) -> Reply:
        if endpoint == "stats":
            return json_reply(200, self.stats)
        if self.api_key is not None:
            given = headers.get("authorization", "").removeprefix("Bearer ").strip() or headers.get(
                "api-key", ""
            )
            if given != self.api_key:
                return error_reply(
                    401, f"Incorrect API key provided: {given}.", "invalid_api_key", "invalid_request_error"
                )
        if endpoint == "chat":
            return self._chat(headers, body)
        if endpoint == "embeddings":
            return self._embeddings(body)
        if endpoint == "models":
            return json_reply(200, {"object": "list", "data": [model_object(m) for m in self.all_models()]})
        if endpoint == "model":
            name = path.split("/models/", 1)[1]
            if name in self.all_models():
                return json_reply(200, model_object(name))
            return unknown_model(name)
        if endpoint.startswith(("files", "file", "batch")):
            return self.batch_store().route(method, path, headers, body)
        return error_reply(
            404, f"Unknown request URL: {method} /v1{path}", "unknown_url", "invalid_request_error"
        )

    def all_models(self) -> tuple[str, ...]:
        return (*self.chat_models, *EMBED_MODELS)

    def batch_store(self) -> BatchStore:
        with self._lock:
            if self._batches is None:
                self._batches = BatchStore(self.batch_line, lambda: self.faults.plan, self.state_dir)
            return self._batches

    # -- chat completions ---------------------------------------------------------------------

    def _chat(self, headers: dict[str, str], body: bytes) -> Reply:
        try:
            req = json.loads(body or b"{}")
        except json.JSONDecodeError:
            return error_reply(
                400, "We could not parse the JSON body of your request.", None, "invalid_request_error"
            )
        if self.recorder is not None:
            answer = self.recorder.received(req)
            if answer is not None:
                return json_reply(*answer)
        model = req.get("model")
        if model not in self.chat_models:
            return unknown_model(str(model))
        messages = req.get("messages")
        if not isinstance(messages, list) or not messages:
            return error_reply(
                400, "'messages' must be a non-empty array.", None, "invalid_request_error", "messages"
            )
        fault = self.faults.decide("chat", body)
        plan = self.faults.plan
        with self._lock:
            nth = self._stats["by_endpoint"]["chat"]
        if plan.latency_ms and "chat" in plan.endpoints and nth > plan.latency_after:
            time.sleep(plan.latency_ms / 1000)
        if fault:
            self._count("faults", fault)
        if fault == "429":
            return error_reply(
                429,
                "Rate limit reached for requests (mock).",
                "rate_limit_exceeded",
                "requests",
                headers=retry_after(plan.retry_after_ms),
            )
        if fault == "500":
            return error_reply(
                500,
                "The server had an error while processing your request (mock).",
                None,
                "server_error",
                headers=retry_after(plan.retry_after_ms),
            )
        if fault == "timeout":
            raise MockTimeout("mock timeout")
        rf = req.get("response_format") or None
        if rf and rf.get("type") == "json_schema" and self.reject_json_schema:
            return error_reply(
                400,
                "response_format type 'json_schema' is not supported by this server",
                None,
                "invalid_request_error",
                "response_format",
            )
        status, payload = self.complete(req, fault=fault)
        if status != 200:
            return json_reply(status, payload)
        if req.get("stream"):
            include_usage = bool((req.get("stream_options") or {}).get("include_usage"))
            return 200, {"content-type": "text/event-stream"}, sse_events(payload, include_usage)
        return json_reply(200, payload)

    def batch_line(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """The reply to one request line of a batch: (status, chat completion or error)."""
        if self.recorder is not None:
            self.recorder.received(body)
        if body.get("model") not in self.chat_models:
            status, _, payload = unknown_model(str(body.get("model")))
            return status, json.loads(payload)
        if not body.get("messages"):
            _, _, payload = error_reply(
                400, "'messages' must be a non-empty array.", None, "invalid_request_error", "messages"
            )
            return 400, json.loads(payload)
        return self.complete(body)

    def complete(self, req: dict[str, Any], *, fault: str | None = None) -> tuple[int, dict[str, Any]]:
        """A chat completion object for a request body (online and batch lines alike)."""
        if self.recorder is not None:
            fault = self.recorder.fault_for(req, fault)
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
            if rf and rf.get("schema"):  # json_object + schema (llama.cpp's grammar)
                rf = {"type": "json_schema", "json_schema": {"schema": rf["schema"]}}
            content = metadata_reply(user, find_schema(rf, system))
            if fault == "korean":
                content = json.dumps(koreanize(json.loads(content), KOREAN_TEXT), ensure_ascii=False)
        elif task == "qa":
            earlier = "\n".join(t for m in messages if m.get("role") == "user" if (t := text_of(m)) != user)
            content = KOREAN_TEXT if fault == "korean" else qa_reply(user, system, earlier)
        elif task == "query":
            content = query_reply(user)
        else:
            content = KOREAN_TEXT if fault == "korean" else text_reply(user)

        content, finish = damage_reply(fault, content)
        refusal = REFUSAL_TEXT if fault == "refusal" else None
        if fault is None and content and self.faults.plan.adversarial_turn(req):
            content = misbehave(self.faults.plan.adversarial, task, content, user, system)
            self._count("faults", "adversarial")
        if fault is None and content and self.recorder is not None:
            content = self.recorder.edit(req, content)
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
        reply, tokens = embeddings_reply(body, EMBED_MODELS)
        with self._lock:
            self._stats["prompt_tokens"] += tokens
        return reply
