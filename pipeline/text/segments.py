"""Segments and batches: split over-long sections at sentence ends, re-join their
translations, and pack segments into requests within a token budget."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

# sentence-ish boundaries, strongest first; Korean sentences end in "다." / "요."
SEPARATORS = ["\n\n", "\n", "다. ", "요. ", ". ", "? ", "! ", "; ", ", ", " ", ""]


@dataclass(frozen=True)
class Segment:
    """One unit of translation: a whole section, or one part of a long one."""

    key: str  # cache key
    text: str  # Korean source
    entry_id: str
    index: int  # section index in the entry
    part: int = 0
    parts: int = 1
    tokens: int = 0
    glossary: tuple[tuple[str, str], ...] = field(default=())

    @property
    def last_part(self) -> bool:
        return self.part == self.parts - 1


def split_text(text: str, max_tokens: int, count: Callable[[str], int]) -> list[tuple[str, str]]:
    """Split ``text`` into chunks of at most ``max_tokens`` at sentence boundaries.

    Returns ``(chunk, joiner)`` pairs, where ``joiner`` is what separated the chunk from the
    previous one in the source ("" for the first, "\\n" or " "), for :func:`join_parts`.
    """
    if count(text) <= max_tokens:
        return [(text, "")]
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(
        separators=SEPARATORS,
        chunk_size=max_tokens,
        chunk_overlap=0,
        length_function=count,
        keep_separator="end",
        add_start_index=True,
    )
    docs = splitter.create_documents([text])
    out: list[tuple[str, str]] = []
    prev_end = 0
    for doc in docs:
        chunk = doc.page_content
        start = doc.metadata.get("start_index", -1)
        if start < 0:
            start = text.find(chunk, prev_end)
        gap = text[prev_end:start] if start >= prev_end else " "
        joiner = "" if not out else ("\n" if "\n" in gap else " ")
        out.append((chunk, joiner))
        prev_end = max(prev_end, start + len(chunk)) if start >= 0 else prev_end
    return out


def join_parts(parts: Sequence[tuple[str, str]]) -> str:
    """Re-join translated parts with the joiners of their source chunks."""
    text = ""
    for chunk, joiner in parts:
        text += (joiner if text else "") + chunk.strip()
    return text


def pack(segments: Sequence[Segment], budget: int) -> list[list[Segment]]:
    """Greedy, order-keeping packing of segments into batches of at most ``budget`` source
    tokens (a segment larger than the budget goes alone)."""
    batches: list[list[Segment]] = []
    current: list[Segment] = []
    used = 0
    for seg in segments:
        if current and used + seg.tokens > budget:
            batches.append(current)
            current, used = [], 0
        current.append(seg)
        used += seg.tokens
    if current:
        batches.append(current)
    return batches
