"""The digest layouts parse knows.  A new layout: one module with a :class:`Reader` and one
line in :data:`READERS`."""

from __future__ import annotations

from .base import Reader, ReadResult
from .hf_daily_ko import HfDailyKoReader

READERS: list[Reader] = [
    HfDailyKoReader(),  # Hugging Face Daily Papers, Korean summaries
]


def pick_reader(text: str) -> Reader:
    """The registered reader that scores ``text`` highest (the first one on a tie)."""
    return max(READERS, key=lambda r: r.can_read(text))


__all__ = ["READERS", "ReadResult", "Reader", "pick_reader"]
