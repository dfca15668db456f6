"""The web page at ``/``: a search box and an ask box, rendered on the server from
``templates/serve.html.j2`` (autoescaped; plain forms, no script, nothing fetched from
elsewhere, so it works offline and data can never run as code)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2

from ..errors import ConfigError
from ..records import Answer, Hit
from ..taxonomy import hit_facts
from ..text.urls import arxiv_abs_url

TEMPLATE = "serve.html.j2"
# the page runs nothing and loads nothing but itself (inline styles, links out are plain <a>)
CSP = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"


class Page:
    def __init__(self, templates_dir: Path) -> None:
        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(templates_dir)),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        try:
            self.template = env.get_template(TEMPLATE)
        except jinja2.TemplateNotFound:
            raise ConfigError(f"page template {TEMPLATE} not found in {templates_dir}") from None

    def render(
        self,
        *,
        documents: int,
        query: str = "",
        hits: list[Hit] | None = None,
        weak_match: bool = False,
        question: str = "",
        answer: Answer | None = None,
        error: str | None = None,
    ) -> str:
        shown: Any = None
        if hits is not None:
            shown = [{"title": h.title, "url": h.url, "tldr": h.tldr, "facts": hit_facts(h)} for h in hits]
        answered: Any = None
        if answer is not None:
            answered = {
                "answer": answer.answer,
                "citations": [
                    {"arxiv_id": c.arxiv_id, "title": c.title, "url": arxiv_abs_url(c.arxiv_id)}
                    for c in answer.citations
                ],
                "unsupported_numbers": answer.unsupported_numbers,
            }
        return self.template.render(
            documents=documents,
            query=query,
            hits=shown,
            weak_match=weak_match,
            question=question,
            answer=answered,
            error=error,
        )
