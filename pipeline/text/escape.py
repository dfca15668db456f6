"""THE escaper for data placed inside our prompt tags (``<segment>``, ``<paper>``,
``<source>``, ``<question>``, ``<issue>``...), and its exact inverse.

Data must not be able to open or close a tag, so every ``<`` that could start one (before a
letter, ``/``, ``!`` or ``?``) becomes ``&lt;``.  Nothing else changes, so numbers such as
``<5%`` and text such as ``R&D`` reach the model as written.  To keep the inverse exact, an
``&`` that would read back as part of an escape (``&lt;``, ``&amp;lt;``...) gains one
``amp;``.  Attribute values (``id="..."``) also get ``"`` as ``&quot;``; they are never
read back.

Data is escaped ONCE, inside the prompt, and every reply is unescaped as it comes back
(:func:`unescape_data`, :func:`unescape_strings`): the records hold the text as written,
and each output format escapes it where it is rendered (HTML, RSS, Markdown).
"""

from __future__ import annotations

import re
from typing import Any

_ESCAPE = re.compile(r"<(?=[/!?A-Za-z])|&(?=(?:amp;)*lt;)")
_UNESCAPE = re.compile(r"&amp;(?=(?:amp;)*lt;)|&lt;")


def escape_data(text: str, *, attribute: bool = False) -> str:
    """``text`` made safe to place between (or, with ``attribute``, inside) our tags."""
    out = _ESCAPE.sub(lambda m: "&lt;" if m.group(0) == "<" else "&amp;", text)
    return out.replace('"', "&quot;") if attribute else out


def unescape_data(text: str) -> str:
    """The inverse of :func:`escape_data` (element text): ``unescape_data(escape_data(x)) == x``."""
    return _UNESCAPE.sub(lambda m: "<" if m.group(0) == "&lt;" else "&", text)


def unescape_strings(value: Any) -> Any:
    """:func:`unescape_data` applied to every string of a JSON-like value (a structured reply)."""
    if isinstance(value, str):
        return unescape_data(value)
    if isinstance(value, list):
        return [unescape_strings(v) for v in value]
    if isinstance(value, dict):
        return {k: unescape_strings(v) for k, v in value.items()}
    return value
