"""Query translation by the LLM: a Korean query rendered in English (and an English one in
Korean), so each side of the index is searched in its own language.

The request carries the query inside ``<query>`` and the collection's own renderings of its
words (the bridge's table, ``bridge.py``) inside ``<terms>``, so the model uses the corpus's
terminology.  The reply (``{"translation", "alternatives"}``) is checked (no prompt echo,
no Hangul in English, not empty) and journaled in ``OUT/cache/query.jsonl`` under a hash of
the query, the terms, the model, the prompt and the temperature: the same query never costs
a second request.  A failed translation is logged and the search goes on with the offline
bridge alone.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from ..errors import DigestError
from ..prompts import load_prompt
from ..settings import Settings
from ..store.jsonl import content_hash, replace_atomically
from ..store.layout import OutDir
from ..text.escape import escape_data
from ..text.generated import check_generated
from ..text.hangul import has_hangul
from .bridge import Bridge
from .fusion import query_language

log = logging.getLogger(__name__)

MAX_TOKENS = 300
LANGUAGES = {"en": "English", "ko": "Korean"}


class QueryTranslationReply(BaseModel):
    translation: str = Field(description="The query in the target language.")
    alternatives: list[str] = Field(
        default_factory=list, description="Up to two rewrites in the target language."
    )


@dataclass
class TranslatedQuery:
    texts: list[str] = field(default_factory=list)  # the translation first, then the alternatives
    cached: bool = False

    @property
    def translation(self) -> str | None:
        return self.texts[0] if self.texts else None


class QueryCache:
    """The LLM's query translations by request hash: a cache no artifact derives from, so a
    reading command (search, ask) may rewrite it without the output folder's lock (the whole
    file, atomically: a reader sees one whole file; concurrent askers: the last one wins)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _load(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except OSError:
            return found
        for line in lines:
            try:
                row = json.loads(line)
                found[row["key"]] = row["value"]
            except (ValueError, KeyError, TypeError):
                continue  # a damaged line is a miss
        return found

    def get(self, key: str) -> Any:
        return self._load().get(key)

    def put(self, key: str, value: Any) -> None:
        rows = {**self._load(), key: value}
        text = "".join(json.dumps({"key": k, "value": v}, ensure_ascii=False) + "\n" for k, v in rows.items())
        try:
            replace_atomically(self.path, lambda f: f.write(text), shared=True)
        except OSError as exc:  # a cache: failing to write it costs a request next time
            log.warning("query translation cache not written (%s)", exc)


def request_message(query: str, hints: list[tuple[str, str]]) -> str:
    lang = query_language(query)
    target = "ko" if lang == "en" else "en"
    parts = [f'<query from="{LANGUAGES[lang]}" to="{LANGUAGES[target]}">{escape_data(query)}</query>']
    if hints:
        lines = "\n".join(f"{escape_data(a)} => {escape_data(b)}" for a, b in hints)
        parts.append(f"<terms>\n{lines}\n</terms>")
    return "\n".join(parts)


def _accept(reply: QueryTranslationReply, target: str, prompt_text: str) -> list[str]:
    """The reply's usable texts: each checked like any generated text."""
    texts: list[str] = []
    for text in [reply.translation, *reply.alternatives[:2]]:
        text = " ".join((text or "").split())
        if not text:
            continue
        problems = check_generated(text, language=target, prompt=prompt_text)
        if problems:
            log.warning("query translation rejected (%s)", "; ".join(problems))
            continue
        texts.append(text)
    return texts if texts and texts[0] == " ".join(reply.translation.split()) else []


def translate_query(settings: Settings, query: str, llm: Any, bridge: Bridge | None) -> TranslatedQuery:
    """The LLM's translation of ``query`` (from the journal when it has it); empty when the
    endpoint fails or the reply does not pass the checks."""
    query = " ".join((query or "").split())
    if not query:
        return TranslatedQuery()
    target = "ko" if query_language(query) == "en" else "en"
    prompt = load_prompt(settings, settings.search.translate_prompt)
    hints = bridge.hints(query) if bridge is not None else []
    user = request_message(query, hints)
    cfg = settings.llm
    llm_id = f"{cfg.provider}|{cfg.base_url or cfg.azure_endpoint or ''}|{cfg.chat_model}"
    key = content_hash("query-translation", user, llm_id, prompt.sha, cfg.temperature, length=24)
    cache = QueryCache(OutDir(settings.out_dir).journal_path("query"))
    hit = cache.get(key)
    if isinstance(hit, dict) and hit.get("texts"):
        return TranslatedQuery(list(hit["texts"]), cached=True)
    messages = [{"role": "system", "content": prompt.text}, {"role": "user", "content": user}]
    try:
        result = llm.complete_json(
            messages, QueryTranslationReply, schema_name="query_translation", max_tokens=MAX_TOKENS
        )
    except DigestError as exc:
        log.warning("query translation failed (%s): searching with the offline bridge only", exc)
        return TranslatedQuery()
    if not result.ok or result.value is None:
        log.warning("query translation came back invalid: searching with the offline bridge only")
        return TranslatedQuery()
    texts = _accept(result.value, target, prompt.text)  # type: ignore[arg-type]
    if target == "en":
        texts = [t for t in texts if not has_hangul(t)]
    if texts:
        cache.put(key, {"texts": texts, "model": cfg.chat_model})
    return TranslatedQuery(texts)
