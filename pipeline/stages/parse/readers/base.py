"""The reader interface: one digest layout -> entries."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from ....records import Entry, ParseIssue


@dataclass
class ReadResult:
    entries: list[Entry] = field(default_factory=list)
    issues: list[ParseIssue] = field(default_factory=list)
    skipped: int = 0  # entries left out (each with an issue naming file and line)


class Reader(Protocol):
    """A digest layout.  ``can_read`` scores a decoded file (0: not this layout, 1: surely);
    the best-scoring registered reader reads it."""

    name: str

    def can_read(self, text: str) -> float: ...

    def read(self, text: str, file: str) -> ReadResult: ...
