"""The structured-output chain: ``json_schema`` -> ``json_object_schema`` -> ``json_object``
-> ``text`` (see ``capabilities.MODES``), driven by what the server answers.

A request starts in the endpoint's current mode (what the probe found, or ``llm.json_mode``
when set).  The server refusing that mode, at any status, steps down the chain at once
(the same request is sent again in the next mode, and the endpoint remembers it: for the
process and in the capabilities cache).  Replies that ignore the format (prose, no JSON
object at all) count as failed attempts of their mode: three in a row step down too.
Every reply is parsed tolerantly and validated; a bad one is re-asked with its problems
named (``max_reasks`` times); the result never raises for bad output.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from pydantic import BaseModel

from ..errors import ContextLengthError
from .extract import extract_json
from .failures import FormatRejected
from .structured import (
    ECHO_ERROR,
    StructuredResult,
    check_structured,
    mode_request,
    reask_messages,
    strict_json_schema,
)

if TYPE_CHECKING:
    from .client import LLM

log = logging.getLogger(__name__)


def complete_json(
    llm: LLM,
    messages: list[dict],
    model_cls: type[BaseModel],
    *,
    schema_name: str,
    max_reasks: int = 1,
    max_tokens: int | None = None,
) -> StructuredResult:
    """Structured output validated by ``model_cls``; bad output is re-asked, never raised."""
    schema = strict_json_schema(model_cls)
    convo = list(messages)
    errors: list[str] = []
    refused = truncated = False
    raw = ""
    tokens = max_tokens or llm.settings.max_output_tokens
    need = (max_tokens or 0) // 2  # a window that cannot hold half the expected reply: split
    attempt = 0
    short: list[dict] | None = None  # the re-ask without the previous reply
    while attempt <= max_reasks:
        mode = llm.endpoint.structured_mode()
        msgs, response_format = mode_request(mode, convo, schema, schema_name)
        try:
            comp = llm.send_structured(msgs, response_format, tokens, mode, need)
        except FormatRejected as exc:
            llm.endpoint.step_down(mode, exc.detail)  # raises when there is nowhere to go
            continue
        except ContextLengthError:
            if short is None or convo is short:
                raise  # the request itself does not fit: the caller splits it
            convo = short  # the re-ask with the previous reply does not fit: without it
            continue
        attempt += 1
        raw = comp.text
        value, errs = check_structured(comp, model_cls, msgs)
        refused = refused or bool(comp.refusal)
        echo = bool(errs) and errs[0].startswith(ECHO_ERROR)
        cut = (
            comp.finish_reason == "length" and not comp.refusal and not echo
        )  # more room would not help an echo
        if cut:
            truncated = True
            tokens = min(tokens * 2, max(tokens, llm.settings.max_output_tokens * 2))
        llm.endpoint.record_reply(mode, ok=value is not None, prose=_ignores_format(comp.text) and not cut)
        if value is not None:
            return StructuredResult(value, True, errors, attempt, refused, truncated, raw)
        errors.extend(f"attempt {attempt}: {e}" for e in errs)
        llm.meter.add_invalid_reply()
        log.debug("structured output attempt %d (%s) failed: %s", attempt, mode, "; ".join(errs))
        convo = [*messages, *reask_messages(raw, errs, truncated=cut, refused=bool(comp.refusal))]
        short = [*messages, *reask_messages("", errs, truncated=cut, refused=bool(comp.refusal))]
    return StructuredResult(None, False, errors, attempt, refused, truncated, raw)


def _ignores_format(text: str) -> bool:
    """A reply with words but no JSON object anywhere in it."""
    if not text or not text.strip():
        return False
    value, _ = extract_json(text)
    return not isinstance(value, dict)
