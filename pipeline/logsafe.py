"""Secrets never reach logs: a filter that masks registered secrets and API-key shapes."""

from __future__ import annotations

import logging
import re

_SECRETS: set[str] = set()
_KEY_SHAPE = re.compile(r"\b(sk-[A-Za-z0-9_\-]{8,})\b")


def register_secret(value: str | None) -> None:
    if value and len(value) >= 6:
        _SECRETS.add(value)


def redact(text: str) -> str:
    for s in _SECRETS:
        if s in text:
            text = text.replace(s, "****")
    return _KEY_SHAPE.sub("sk-****", text)


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            msg = record.getMessage()
        except Exception:
            return True
        clean = redact(msg)
        if clean != msg:
            record.msg, record.args = clean, ()
        return True


def install_redaction() -> None:
    root = logging.getLogger()
    for h in root.handlers:
        if not any(isinstance(f, RedactingFilter) for f in h.filters):
            h.addFilter(RedactingFilter())
