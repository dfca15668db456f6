"""The newsletter's output formats: each is a template in ``settings.templates_dir`` and a file
suffix.  A new format: its template file and one line in :data:`FORMATS`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from ...errors import ConfigError


@dataclass(frozen=True)
class Format:
    name: str
    template: str  # file name in settings.templates_dir
    suffix: str  # of the written file
    escape: Literal["markdown", "html"] = "html"  # how data is escaped (html also suits XML)
    aliases: tuple[str, ...] = ()  # other names accepted for it (--format, settings)


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format("md", "newsletter.md.j2", ".md", escape="markdown", aliases=("markdown",)),
        Format("html", "newsletter.html.j2", ".html"),
        Format("rss", "feed.xml.j2", ".xml", aliases=("xml", "feed")),
    )
}


def get_format(name: str) -> Format:
    """The format named ``name`` (or one of its aliases); a ConfigError naming the choices."""
    key = name.strip().lower()
    for f in FORMATS.values():
        if key == f.name or key in f.aliases:
            return f
    raise ConfigError(f"unknown newsletter format {key!r}; choose from {', '.join(FORMATS)}")


def check_formats(names: Iterable[str]) -> list[Format]:
    """The chosen formats, each once, in order."""
    out: list[Format] = []
    for name in names:
        f = get_format(name)
        if f not in out:
            out.append(f)
    if not out:
        raise ConfigError("no newsletter format chosen")
    return out
