"""THE Markdown escaping: data placed in Markdown (newsletters, `digest search --format md`)
renders as the text it is, never as markup."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote


class MdSafe(str):
    """A string the Markdown template may emit as is (already escaped or a URL)."""


_MD_INLINE = re.compile(r"([\\`*_\[\]<>|~$])")
_MD_ENTITY = re.compile(r"&(?=#?[0-9A-Za-z]+;)")
_MD_LINE_START = re.compile(r"^(\s*)([#>+=-])")
_MD_ORDERED = re.compile(r"^(\s*\d+)([.)])(?=\s|$)")


def md_escape(value: Any) -> str:
    """Escape text for Markdown: one line, every inline special backslash-escaped."""
    if value is None:
        return ""
    if isinstance(value, MdSafe):
        return value
    if not isinstance(value, str):
        return str(value)
    text = " ".join(value.split())
    text = _MD_INLINE.sub(r"\\\1", text)
    text = _MD_ENTITY.sub(r"\\&", text)
    text = _MD_LINE_START.sub(r"\1\\\2", text)
    text = _MD_ORDERED.sub(r"\1\\\2", text)
    return text


def md_url(url: str | None) -> MdSafe:
    """A URL safe inside ``[text](url)``: brackets, spaces and quotes percent-encoded."""
    if not url:
        return MdSafe("")
    return MdSafe(quote(url, safe=":/?#@!$&'*+,;=%-._~"))
