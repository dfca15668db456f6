"""The mock's wire format: OpenAI-shaped JSON replies and errors, server-sent events."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

Reply = tuple[int, dict[str, str], bytes]  # status, headers, body


def endpoint_name(method: str, path: str) -> str:
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


def json_reply(status: int, payload: Any, headers: dict[str, str] | None = None) -> Reply:
    h = {"content-type": "application/json", "x-request-id": f"req_{uuid.uuid4().hex[:16]}"}
    h.update(headers or {})
    return status, h, json.dumps(payload, ensure_ascii=False).encode()


def error_reply(
    status: int,
    message: str,
    code: str | None,
    typ: str,
    param: str | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    return json_reply(
        status, {"error": {"message": message, "type": typ, "param": param, "code": code}}, headers
    )


def unknown_model(name: str) -> Reply:
    return error_reply(
        404,
        f"The model `{name}` does not exist or you do not have access to it.",
        "model_not_found",
        "invalid_request_error",
    )


def retry_after(ms: int) -> dict[str, str]:
    return {"retry-after-ms": str(ms), "retry-after": str(max(0.001, ms / 1000))}


def model_object(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": 1700000000, "owned_by": "mock"}


def sse_events(payload: dict[str, Any], include_usage: bool) -> bytes:
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
