"""The mock's ``/v1/embeddings``: deterministic vectors from the text (``tasks.embed_text``)."""

from __future__ import annotations

import base64
import json
import struct
from typing import Any

from ..tokens import count_tokens, get_encoding
from .tasks import EMBED_DIMS, embed_text
from .wire import Reply, error_reply, json_reply, unknown_model


def embeddings_reply(body: bytes, models: tuple[str, ...]) -> tuple[Reply, int]:
    """The reply to an embeddings request, and the tokens it counted."""
    try:
        req = json.loads(body or b"{}")
    except json.JSONDecodeError:
        return error_reply(
            400, "We could not parse the JSON body of your request.", None, "invalid_request_error"
        ), 0
    model = req.get("model")
    if model not in models:
        return unknown_model(str(model)), 0
    inputs = req.get("input")
    if isinstance(inputs, str) or (isinstance(inputs, list) and inputs and isinstance(inputs[0], int)):
        inputs = [inputs]
    if not isinstance(inputs, list) or not inputs:
        return error_reply(
            400, "'input' must be a non-empty string or array.", None, "invalid_request_error", "input"
        ), 0
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
    usage = {"prompt_tokens": tokens, "total_tokens": tokens}
    return json_reply(200, {"object": "list", "data": data, "model": model, "usage": usage}), tokens
