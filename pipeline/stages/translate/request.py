"""The request for a group of segments and its reply: the chat messages (segments as data
inside ``<segment>`` tags, with the glossary entries and problems that concern them), the
reply's schema, ``max_tokens`` from the expected reply, and the reply parsed back to segments.
The online path (``engine.py``) and the Batch API path (``batch.py``) share it."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from ...llm.structured import StructuredResult, strict_json_schema
from ...llm.tokens import count_tokens
from ...prompts import Prompt
from ...text.escape import escape_data, unescape_data
from ...text.segments import Segment

SCHEMA_NAME = "translations"
EN_PER_KO_TOKEN = 0.8  # English output tokens per Korean source token (o200k; 0.68 measured)
ITEM_OVERHEAD_TOKENS = 12  # {"id":"3","text":"..."} per segment in the reply
REPLY_OVERHEAD_TOKENS = 10  # {"translations":[...]}


class TranslationItem(BaseModel):
    id: str
    text: str


class TranslationBatch(BaseModel):
    translations: list[TranslationItem]


def build_messages(
    prompt: Prompt, segs: list[Segment], problems: dict[str, list[str]] | None = None
) -> tuple[list[dict], dict[str, Segment]]:
    """Chat messages for one request; ids are 1..n within the request."""
    ids = {str(i): s for i, s in enumerate(segs, 1)}
    terms = sorted({pair for s in segs for pair in s.glossary})
    blocks: list[str] = []
    if terms:
        blocks.append("<glossary>\n" + "\n".join(f"{ko} => {en}" for ko, en in terms) + "\n</glossary>")
    if problems:
        lines = [
            f"segment {sid}: " + "; ".join(problems[s.key]) for sid, s in ids.items() if s.key in problems
        ]
        if lines:
            blocks.append("<problems>\n" + "\n".join(lines) + "\n</problems>")
    blocks.append("\n".join(f'<segment id="{sid}">{escape_data(s.text)}</segment>' for sid, s in ids.items()))
    user = "\n\n".join(blocks)
    return [{"role": "system", "content": prompt.text}, {"role": "user", "content": user}], ids


def expected_output_tokens(segs: list[Segment]) -> int:
    """Completion tokens a good reply for ``segs`` takes (``--dry-run`` estimates)."""
    return REPLY_OVERHEAD_TOKENS + sum(int(s.tokens * EN_PER_KO_TOKEN) + ITEM_OVERHEAD_TOKENS for s in segs)


def output_limit(segs: list[Segment], cap: int) -> int:
    """``max_tokens`` of a request: the expected reply with 2x headroom, within ``cap``."""
    return max(64, min(cap, 2 * expected_output_tokens(segs) + 100))


def schema_tokens(model: str) -> int:
    """Prompt tokens the reply's JSON schema adds to each request (either JSON mode)."""
    return count_tokens(json.dumps(strict_json_schema(TranslationBatch)), model)


def request_params(
    prompt: Prompt, segs: list[Segment], problems: dict[str, list[str]] | None = None
) -> tuple[dict[str, Any], dict[str, Segment]]:
    """The structured-output request for ``segs``: online (``LLM.complete_json``) and in a
    Batch API line (``LLM.structured_body``) alike; plus the request's id -> segment map."""
    messages, ids = build_messages(prompt, segs, problems)
    return {"messages": messages, "model_cls": TranslationBatch, "schema_name": SCHEMA_NAME}, ids


def parse_reply(res: StructuredResult, ids: dict[str, Segment]) -> tuple[dict[str, str] | None, str]:
    """Segment key -> English text from one structured reply, or (None, why it is unusable)."""
    if not res.ok or res.value is None:
        why = "refused" if res.refused else "truncated" if res.truncated else "invalid reply"
        last = res.errors[-1].split(": ", 1)[-1] if res.errors else ""
        return None, f"{why}: {last}"[:300]
    value: TranslationBatch = res.value  # type: ignore[assignment]
    got = [item.id.strip() for item in value.translations]
    if len(ids) == 1 and len(got) == 1:  # one segment asked, one answered: whatever its id
        got = list(ids)
        value.translations[0].id = got[0]
    if sorted(got) != sorted(ids):
        dup = sorted({i for i in got if got.count(i) > 1})
        return None, (
            f"ids do not line up (missing {sorted(set(ids) - set(got))}, "
            f"extra {sorted(set(got) - set(ids))}, duplicated {dup})"
        )
    by_id = {item.id.strip(): item.text for item in value.translations}
    return {s.key: unescape_data(by_id[sid].strip()) for sid, s in ids.items()}, ""
