"""The tolerant JSON extractor: the JSON object in a model's reply, whatever is around it.

Small and local models, and servers that do not enforce the format, wrap JSON in code
fences, put prose before and after it, leave trailing commas, or write Python-style
single-quoted objects.  :func:`extract_json` tries, in order and stopping at the first
that parses: the whole reply; the content of a code fence; each balanced ``{...}`` span
(strings respected); each of those with trailing commas removed (outside strings); each as
a Python literal (single quotes; only plain data, through ``ast.literal_eval``).  It never
guesses content: a reply cut off mid-object stays invalid.
"""

from __future__ import annotations

import ast
import json
import re
from typing import Any

_FENCE = re.compile(r"```[ \t]*(?:json|JSON|javascript|js)?[ \t]*\n?(.*?)```", re.S)
MAX_SPANS = 8  # balanced spans tried, in order of appearance


def extract_json(text: str) -> tuple[Any, str]:
    """(the parsed value, "") or (None, why nothing parsed)."""
    raw = (text or "").strip()
    if not raw:
        return None, "the reply was empty"
    first_error = ""
    try:
        return json.loads(raw), ""
    except json.JSONDecodeError as exc:
        first_error = f"the reply is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
    candidates = [m.group(1).strip() for m in _FENCE.finditer(raw)]
    candidates += balanced_spans(raw)
    for cand in candidates:
        value = _loads_lenient(cand)
        if value is not None:
            return value, ""
    if "{" in raw and not balanced_spans(raw):
        return None, first_error + " (the JSON object is not closed: cut off?)"
    return None, first_error


def _loads_lenient(text: str) -> Any:
    for attempt in (text, strip_trailing_commas(text)):
        try:
            return json.loads(attempt)
        except json.JSONDecodeError:
            pass
    if "'" in text:
        try:
            value = ast.literal_eval(strip_trailing_commas(text))
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            return None
        if isinstance(value, dict | list) and _plain(value):
            return value
    return None


def _plain(value: Any) -> bool:
    """JSON-representable data only (literal_eval also yields sets, tuples, bytes, complex)."""
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    return value is None or isinstance(value, str | int | float | bool)


def balanced_spans(text: str) -> list[str]:
    """The balanced ``{...}`` spans of ``text``, outermost first, quotes respected."""
    spans: list[str] = []
    start = text.find("{")
    while start >= 0 and len(spans) < MAX_SPANS:
        end = _span_end(text, start)
        if end is None:
            start = text.find("{", start + 1)
            continue
        spans.append(text[start : end + 1])
        start = text.find("{", end + 1)
    return spans


def _span_end(text: str, start: int) -> int | None:
    depth = 0
    quote = ""
    escaped = False
    for i in range(start, len(text)):
        ch = text[i]
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = ""
            continue
        if ch in "\"'":
            # an apostrophe inside a word (model's) is not a quote
            if ch == "'" and i > 0 and text[i - 1].isalnum() and i + 1 < len(text) and text[i + 1].isalnum():
                continue
            quote = ch
        elif ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
            if depth == 0:
                return i
    return None


def strip_trailing_commas(text: str) -> str:
    """Remove commas directly before ``}`` or ``]`` (whitespace between), outside strings."""
    out: list[str] = []
    quote = ""
    escaped = False
    for i, ch in enumerate(text):
        if quote:
            out.append(ch)
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = ""
            continue
        if ch in "\"'":
            quote = ch
        elif ch == ",":
            j = i + 1
            while j < len(text) and text[j].isspace():
                j += 1
            if j < len(text) and text[j] in "}]":
                continue
        out.append(ch)
    return "".join(out)
