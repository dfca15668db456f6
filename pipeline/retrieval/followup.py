"""Follow-up questions: what an earlier turn of a conversation lends the next question.

Retrieval: a follow-up ("and how many parameters does it have?") names nothing to search
for.  A question that refers back (it, its, they, this, these, 그, 이 논문, 해당...) is
also searched together with the earlier questions, and whichever search covers its query
better wins; any other question is searched alone, so a new topic keeps its own hits and
an off-topic one is still refused without asking the model.  The model: the previous
turns go before the question as chat history (questions escaped as data, answers cut),
so "it" can be resolved; the answer must still come from the sources.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..records import Hit
from ..text.escape import escape_data

MAX_TURNS = 3  # earlier turns given to the model
MAX_ANSWER_CHARS = 1200  # of each earlier answer


_REFERS_BACK = re.compile(
    r"\b(?:it|its|it's|they|them|their|theirs|this|that|these|those|he|she|his|her|former|latter|"
    r"same|above|previous|earlier|mentioned)\b"
    r"|(?:^|\s)(?:그|이|저|해당)\s|(?:그것|이것|저것|그들|그녀|거기|위의|앞의|앞서|해당)",
    re.IGNORECASE,
)


def refers_back(question: str) -> bool:
    """Whether ``question`` points at something said before ("it", "this paper", "그 논문")."""
    return bool(_REFERS_BACK.search(question))


@dataclass(frozen=True)
class Turn:
    question: str
    answer: str


def followup_query(question: str, history: Sequence[Turn]) -> str | None:
    """The query that carries the subject of the earlier questions (a follow-up of a
    follow-up still needs the first one); None without history or when ``question`` does
    not refer back."""
    if not history or not refers_back(question):
        return None
    return "\n".join([*(t.question.strip() for t in history[-MAX_TURNS:]), question.strip()])


def best_relevance(hits: list[Hit]) -> float:
    return max((h.relevance or 0.0 for h in hits), default=0.0)


def pick_hits(own: list[Hit], with_context: list[Hit] | None) -> list[Hit]:
    """The hits of whichever query the best hit covers better (ties: the question's own)."""
    if with_context is None or best_relevance(own) >= best_relevance(with_context):
        return own
    return with_context


def with_history(messages: list[dict[str, str]], history: Sequence[Turn]) -> list[dict[str, str]]:
    """``messages`` (system, user) with the last turns between them as chat history."""
    if not history:
        return messages
    turns: list[dict[str, str]] = []
    for t in history[-MAX_TURNS:]:
        answer = t.answer.strip()
        if len(answer) > MAX_ANSWER_CHARS:
            answer = answer[: MAX_ANSWER_CHARS - 1].rstrip() + "…"
        turns.append({"role": "user", "content": "Earlier question: " + escape_data(t.question.strip())})
        turns.append({"role": "assistant", "content": answer})
    return [messages[0], *turns, *messages[1:]]
