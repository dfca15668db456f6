"""How results look on a terminal, in a pipe, as JSON or Markdown (presentation only)."""

from __future__ import annotations

import json
import shutil
import sys
import textwrap
from collections.abc import Iterable
from typing import Any

from ..records import Hit
from ..taxonomy import hit_facts
from ..text.markdown import md_escape, md_url

SEARCH_FORMATS = ("table", "json", "jsonl", "md")


def terminal_width() -> int | None:
    """The terminal's width when stdout is one (``$COLUMNS`` wins), None when piped."""
    if not sys.stdout.isatty():
        return None
    return max(40, shutil.get_terminal_size((100, 24)).columns)


def _wrap(text: str, width: int | None, first: str, rest: str) -> list[str]:
    """``text`` after ``first``, wrapped to ``width`` with ``rest`` before each further
    line; one line when ``width`` is None (a pipe: never cut or wrapped)."""
    if width is None:
        return [first + text]
    return textwrap.wrap(
        text, width=width, initial_indent=first, subsequent_indent=rest, break_on_hyphens=False
    ) or [first]


def hits_table(hits: list[Hit], width: int | None) -> str:
    """One block per hit: full title, then date / votes / topic / match and the arXiv link,
    then the TL;DR; wrapped to ``width`` (a terminal) or unwrapped (a pipe)."""
    if not hits:
        return "no results\n"
    lines: list[str] = []
    pad = len(str(len(hits))) + 2
    indent = " " * pad
    for i, h in enumerate(hits, 1):
        if i > 1:
            lines.append("")
        lines += _wrap(h.title, width, f"{i}.".rjust(pad - 1) + " ", indent)
        facts = " · ".join(hit_facts(h) + ([h.url] if h.url else []))
        lines += _wrap(facts, width, indent, indent)
        if h.tldr:
            lines += _wrap(h.tldr, width, indent + "TL;DR: ", indent)
    return "\n".join(lines) + "\n"


def hits_markdown(hits: list[Hit]) -> str:
    if not hits:
        return "_No results._\n"
    out: list[str] = []
    for i, h in enumerate(hits, 1):
        title = md_escape(h.title)
        head = f"{i}. **[{title}]({md_url(h.url)})**" if h.url else f"{i}. **{title}**"
        out.append(head + "  ")
        facts = md_escape(" · ".join(hit_facts(h)))
        out.append(f"   {facts}" + ("  " if h.tldr else ""))
        if h.tldr:
            out.append(f"   TL;DR: {md_escape(h.tldr)}")
        out.append("")
    return "\n".join(out)


def hit_data(h: Hit) -> dict[str, Any]:
    return h.model_dump(mode="json")


def render_hits(hits: list[Hit], fmt: str, width: int | None = None) -> str:
    if fmt == "json":
        return json.dumps([hit_data(h) for h in hits], ensure_ascii=False, indent=2) + "\n"
    if fmt == "jsonl":
        return "".join(json.dumps(hit_data(h), ensure_ascii=False) + "\n" for h in hits)
    if fmt == "md":
        return hits_markdown(hits)
    return hits_table(hits, width)


def weak_match_note(hits: Iterable[Hit], threshold: float) -> str | None:
    """A note when even the best hit covers the query poorly (the results may be unrelated)."""
    hits = list(hits)
    if not hits:
        return None
    best = max((h.relevance or 0.0) for h in hits)
    if best >= threshold:
        return None
    return (
        f"note: weak match: the best result covers {round(best * 100)}% of the query "
        f"(below {round(threshold * 100)}%); these results may be unrelated"
    )
