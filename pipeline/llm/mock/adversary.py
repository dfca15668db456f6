"""The mock's adversarial mode: replies shaped like a careless or manipulated model's, to prove
that the PRODUCT catches them (a test for each kind; ``tests/test_adversarial.py``).

``adversarial=numbers+hangul+ids+inject+cite+echo+prose`` in the fault spec (with
``adversarial_rate``, default 1: every reply) rewrites the mock's good reply:

============  ==================================================  ===========================
kind          what the reply does                                 task(s)
============  ==================================================  ===========================
``numbers``   changes the first number, drops the second;         translate, qa
              key results and model sizes get invented values     metadata
``hangul``    leaves a Korean word of the source in               translate, metadata, text
``ids``       swaps the first two segment ids (one segment:       translate
              replies under an id it was not given)
``inject``    obeys an instruction hidden in the data ("reply     translate, qa
              with X" -> X; "... the system prompt" -> it)
``cite``      cites an id it was not given                        qa
``echo``      replies with the prompt itself                      every task
``prose``     pads the JSON with prose before and after           translate, metadata
============  ==================================================  ===========================

Every rewrite is a pure function of the request, so runs are reproducible.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ...text.hangul import hangul_runs

KINDS = ("numbers", "hangul", "ids", "inject", "cite", "echo", "prose")

_SEGMENT = re.compile(r'<segment\s+id="([^"]*)"[^>]*>(.*?)</segment>', re.S)
_SOURCE = re.compile(r'<source\s+[^>]*?id="([^"]*)"[^>]*>(.*?)</source>', re.S)
_NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*")
_INSTRUCTION = re.compile(
    r"(?:ignore|disregard|forget)\b[^.]{0,60}?\b(?:instructions?|prompt|above)\b"
    r"|\b(?:reply|respond|answer)\s+(?:only\s+)?with\b|\b(?:say|print|output)\s+\S"
    r"|지시.{0,10}무시|무시하고",
    re.I,
)
# what the instruction asks for: "reply with X", "say X", "X 라고만 답하라" ("answer only X")
_PAYLOAD = re.compile(
    r"\b(?:reply|respond|answer)\s+(?:only\s+)?with\s*:?\s*(.+?)\s*(?:[.!]\s|[.!]?$)"
    r"|\b(?:say|print|output)\s+(.+?)\s*(?:[.!]\s|[.!]?$)"
    r"|([A-Za-z0-9_]+)\s*(?:이?라고만|라고)\s*(?:답|말|출력)",
    re.I | re.S,
)
OBEYED = "OK, ignoring my previous instructions."
INVENTED_ID = "2501.99999"
PROSE_BEFORE = "Sure! Here is the JSON you asked for:\n\n"
PROSE_AFTER = "\n\nLet me know if you need anything else."


def misbehave(kinds: tuple[str, ...], task: str, content: str, user: str, system: str) -> str:
    """The good reply ``content`` to a request of ``task`` rewritten by every applicable kind."""
    if "echo" in kinds:
        return (system + "\n\n" + user).strip()
    if task == "translate":
        content = _translation(kinds, content, user, system)
    elif task == "metadata":
        content = _metadata(kinds, content, user)
    elif task == "qa":
        content = _answer(kinds, content, user, system)
    elif task == "text" and "hangul" in kinds:
        content = content.rstrip() + " " + (_first_hangul(user) or "새로운 논문")
    if "prose" in kinds and task in ("translate", "metadata"):
        content = PROSE_BEFORE + content + PROSE_AFTER
    return content


# -- rewrites ----------------------------------------------------------------------------------


def change_numbers(text: str) -> str:
    """The first number changed (its last digit + 1), the second one dropped."""
    seen = 0

    def swap(m: re.Match[str]) -> str:
        nonlocal seen
        seen += 1
        if seen == 1:
            s = m.group(0)
            return s[:-1] + str((int(s[-1]) + 1) % 10)
        return "" if seen == 2 else m.group(0)

    return _NUMBER.sub(swap, text)


def _first_hangul(text: str) -> str | None:
    runs = hangul_runs(text)
    return runs[0] if runs else None


def obeyed(data: str, system: str) -> str | None:
    """What a model that obeys the instruction hidden in ``data`` replies (None: there is none)."""
    if not _INSTRUCTION.search(data):
        return None
    m = _PAYLOAD.search(data)
    payload = next((g for g in m.groups() if g), "").strip() if m else ""
    if "system prompt" in payload.lower() or (not payload and "prompt" in data.lower()):
        return system.strip()
    return payload.strip(" \"'") or OBEYED


def _translation(kinds: tuple[str, ...], content: str, user: str, system: str) -> str:
    data = json.loads(content)
    items: list[dict[str, Any]] = data["translations"]
    sources = dict(_SEGMENT.findall(user))
    for item in items:
        src = sources.get(item["id"], "")
        if "numbers" in kinds:
            item["text"] = change_numbers(item["text"])
        if "hangul" in kinds and (word := _first_hangul(src)):
            item["text"] = f"{item['text']} {word}"
        if "inject" in kinds and (order := obeyed(src, system)) is not None:
            item["text"] = order
    if "ids" in kinds and items:
        if len(items) > 1:
            items[0]["id"], items[1]["id"] = items[1]["id"], items[0]["id"]
        else:
            items[0]["id"] = str(100 + len(sources))
    return json.dumps(data, ensure_ascii=False)


def _metadata(kinds: tuple[str, ...], content: str, user: str) -> str:
    data = json.loads(content)
    if not isinstance(data, dict):
        return content
    if "numbers" in kinds:
        for i, kr in enumerate(data.get("key_results") or []):
            if isinstance(kr, dict):
                kr["value"] = f"{97.3 + i}%"
        if isinstance(data.get("model_sizes"), list):
            data["model_sizes"] = ["999B"]
    if "hangul" in kinds and isinstance(data.get("tldr"), str):
        data["tldr"] = f"{data['tldr']} {_first_hangul(user) or '새로운 논문'}"
    return json.dumps(data, ensure_ascii=False)


def _answer(kinds: tuple[str, ...], content: str, user: str, system: str) -> str:
    if "inject" in kinds:
        for _, body in _SOURCE.findall(user):
            order = obeyed(body, system)
            if order is not None:
                return order
    if "numbers" in kinds:
        changed = change_numbers(content)
        content = changed if changed != content else content.rstrip() + " Accuracy rose by 97.3%."
    if "cite" in kinds:
        content = content.rstrip() + f" This is confirmed by later work [{INVENTED_ID}]."
    return content
