"""What real OpenAI-compatible servers answer when something is wrong, recognised by the body
(the status code alone is not reliable: the same problem comes back as 400, 413, 422, 429,
500 or even 200, depending on the server).  Fixtures of each case, with their sources, are in
``tests/fixtures/quirks/``.

- :func:`error_text`: every word of an error body, whatever its shape (OpenAI's
  ``{"error": {...}}``, a string ``error``, FastAPI's ``{"detail": [...]}``, vLLM's top-level
  ``{"object": "error", ...}``);
- :func:`rejects_format`: the server refused the ``response_format`` (step down the chain);
- :func:`is_context_length` / :func:`context_window_from`: the prompt does not fit (split);
- :func:`is_model_not_found`, :func:`is_quota`: settings problems, never retried;
- :func:`echoes_prompt`: a reply that repeats the prompt instead of answering.
"""

from __future__ import annotations

import re
from typing import Any

_FORMAT_WORDS = ("response_format", "json_schema", "json_object", "grammar", "schema")
_CONTEXT = re.compile(
    r"maximum context length|context length|context size|context window|maximum input length"
    r"|greater than the context|context_length_exceeded|exceed_context_size|request too large"
    r"|prompt is too long|input tokens exceed|too many input tokens",
    re.I,
)
_WINDOW = (
    re.compile(r"maximum context length is (\d+)", re.I),
    re.compile(r"context length (?:is|of)(?: only)? (\d+)", re.I),
    re.compile(r"available context size \((\d+)", re.I),
    re.compile(r"n_ctx\W{0,4}(\d+)", re.I),
    re.compile(r"max_model_len\W{0,4}(\d+)", re.I),
    re.compile(r"maximum input length (?:is|of) (\d+)", re.I),
)
_NOT_FOUND = re.compile(
    r"model_not_found|not found|does not exist|not a valid model|no endpoints found|unknown model"
    r"|try pulling it|invalid model",
    re.I,
)
_QUOTA = re.compile(
    r"insufficient_quota|exceeded your current quota|free-models-per-day|add \d+ credits|out of credits"
    r"|credit balance is too low",
    re.I,
)


def error_text(body: Any, message: str = "") -> str:
    """The words of an error body, flattened (message, type, code, param, FastAPI ``loc``)."""
    parts: list[str] = [message] if message else []

    def walk(node: Any, depth: int = 0) -> None:
        if depth > 4:
            return
        if isinstance(node, dict):
            for key in ("message", "msg", "error", "detail", "type", "code", "param", "loc", "raw"):
                if key in node:
                    walk(node[key], depth + 1)
        elif isinstance(node, list | tuple):
            for item in node[:20]:
                walk(item, depth + 1)
        elif node is not None:
            parts.append(str(node))

    walk(body)
    return " ".join(dict.fromkeys(p for p in parts if p))


def is_context_length(status: int, text: str) -> bool:
    """The request does not fit the context window (OpenAI, vLLM, llama.cpp, llama-cpp-python,
    LM Studio, OpenRouter wordings; Groq's 413 "Request too large")."""
    return status in (400, 413, 422, 429, 500) and bool(_CONTEXT.search(text))


def context_window_from(text: str) -> int | None:
    """The window the error message states, e.g. "maximum context length is 512 tokens"."""
    for pattern in _WINDOW:
        m = pattern.search(text)
        if m and int(m.group(1)) > 0:
            return int(m.group(1))
    return None


def rejects_format(status: int, text: str, *, sent_format: bool) -> bool:
    """Did the server refuse the structured-output mode?  At ANY error status (llama-cpp-python
    answers 500, FastAPI 422, most 400), when the request carried a ``response_format`` and
    the body names it.  Context-length errors and a missing model are not format problems."""
    if not sent_format or status < 400 or is_context_length(status, text):
        return False
    if status == 404 and is_model_not_found(status, text):
        return False
    low = text.lower()
    return any(word in low for word in _FORMAT_WORDS)


def is_model_not_found(status: int, text: str) -> bool:
    return (status == 404 or status == 400) and "model" in text.lower() and bool(_NOT_FOUND.search(text))


def is_quota(status: int, text: str) -> bool:
    """Out of credit: waiting will not help."""
    return status in (402, 429) and bool(_QUOTA.search(text))


# -- replies that repeat the prompt ------------------------------------------------------------

_TAG = re.compile(r"<(/?)([a-z][a-z_]{1,30})(?=[\s>])")
_SPACE = re.compile(r"\s+")


def _norm(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def _asked(messages: list[dict]) -> list[dict]:
    """The messages we wrote (not the model's earlier replies in a re-ask)."""
    return [m for m in messages if m.get("role") != "assistant"]


def echoed_tags(reply: str, messages: list[dict]) -> list[str]:
    """The markup tags of the prompt (``<segment ...>``, ``<glossary>``) found in the reply:
    data is always sent escaped, so a reply holding them copies the prompt."""
    prompt_tags = {
        m.group(2) for msg in _asked(messages) for m in _TAG.finditer(str(msg.get("content") or ""))
    }
    found = {m.group(2) for m in _TAG.finditer(reply or "")}
    return sorted(found & prompt_tags)


def echoes_prompt(reply: str, messages: list[dict]) -> bool:
    """Does the reply repeat a message of the prompt (a base model continuing the text, a server
    that did not apply the chat template)?  True when it holds the prompt's markup tags, or a
    run of at least 60% of a message (24 characters at least, 120 enough)."""
    if not reply or not reply.strip():
        return False
    if echoed_tags(reply, messages):
        return True
    text = _norm(reply)[:4000]
    for msg in _asked(messages):
        content = _norm(str(msg.get("content") or ""))[:4000]
        if len(content) >= 24 and _common_run(text, content, max(24, min(120, int(0.6 * len(content))))):
            return True
    return False


def _common_run(a: str, b: str, need: int) -> bool:
    """Do ``a`` and ``b`` share a substring of ``need`` characters?  Any such run holds one of
    ``b``'s chunks that start at a multiple of ``step``: look those up, then measure the run."""
    step = max(1, need // 4)
    size = need - step
    for k in range(0, len(b) - size + 1, step):
        chunk = b[k : k + size]
        i = a.find(chunk)
        while i >= 0:
            left = 0
            while i - left > 0 and k - left > 0 and a[i - left - 1] == b[k - left - 1]:
                left += 1
            right = size
            while i + right < len(a) and k + right < len(b) and a[i + right] == b[k + right]:
                right += 1
            if left + right >= need:
                return True
            i = a.find(chunk, i + 1)
    return False
