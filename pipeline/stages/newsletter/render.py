"""Render an ``Issue`` with the Jinja2 templates in ``settings.templates_dir``.

Data never becomes markup: HTML and XML templates autoescape; the Markdown
environment escapes every ``{{ value }}`` through ``finalize`` (CommonMark
backslash escapes), so a title like ``<script>`` or ``*x*`` renders as text.
Templates mark deliberate Markdown with the ``mdurl`` filter (links) only.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from datetime import date as Date
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import jinja2

from ...errors import ConfigError
from ...text.markdown import md_escape, md_url
from .formats import Format, get_format
from .model import Issue

# the feeds' channel link when newsletter.site_url is unset: where the digests' papers come from
SITE_URL_FALLBACK = "https://huggingface.co/papers"


def rfc822(day: Date | None) -> str:
    """RFC-822 date (as RSS wants) for the start of a digest day, UTC."""
    if day is None:
        day = Date(1970, 1, 1)
    return format_datetime(datetime.combine(day, time(0, 0), tzinfo=UTC))


def _environment(templates_dir: Path, fmt: Format) -> jinja2.Environment:
    common: dict[str, Any] = {
        "loader": jinja2.FileSystemLoader(str(templates_dir)),
        "undefined": jinja2.StrictUndefined,
        "trim_blocks": True,
        "lstrip_blocks": True,
        "keep_trailing_newline": True,
        "extensions": ["jinja2.ext.do"],
    }
    if fmt.escape == "markdown":
        env = jinja2.Environment(autoescape=False, finalize=md_escape, **common)  # noqa: S701 - escaped by finalize
    else:
        env = jinja2.Environment(autoescape=True, **common)
    env.filters["mdurl"] = md_url
    env.filters["rfc822"] = rfc822
    return env


def render(issue: Issue, fmt: Format | str, templates_dir: Path, **extra: Any) -> str:
    """Render one format of ``issue``; a broken or missing template is a ConfigError."""
    if isinstance(fmt, str):
        fmt = get_format(fmt)
    name = fmt.template
    env = _environment(templates_dir, fmt)
    try:
        template = env.get_template(name)
        return template.render(
            **{"issue": issue, "cumulative": False, "fallback_url": SITE_URL_FALLBACK, **extra}
        )
    except jinja2.TemplateNotFound:
        raise ConfigError(f"newsletter template {name} not found in {templates_dir}") from None
    except jinja2.TemplateSyntaxError as exc:
        raise ConfigError(f"newsletter template {exc.filename or name}:{exc.lineno}: {exc.message}") from None
    except jinja2.UndefinedError as exc:
        raise ConfigError(f"newsletter template {name}: {exc.message}") from None
