"""A conversation with ``digest ask``: each question carries the earlier turns (so a
follow-up can refer to the previous answer) and each answer is logged in the user dir
(``userdata/logs.py``) with its model, tokens and time, unless the logs are off.

``start_conversation`` opens a new one, continues the last logged one (``ask -c``) or a
given one (``ask --cid ID``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from ..errors import ConfigError
from ..records import Answer
from ..settings import Settings
from ..userdata.logs import LoggedAsk, LogStore, new_conversation_id
from .ask import AskSession
from .followup import MAX_TURNS, Turn

log = logging.getLogger(__name__)


def _usage(llm: Any) -> tuple[int, int, int]:
    """(requests, prompt tokens, completion tokens) the LLM has spent so far."""
    meter = getattr(llm, "meter", None)
    if meter is None:
        return 0, 0, 0
    return meter.requests, meter.prompt_tokens, meter.completion_tokens


class Conversation:
    """Questions asked in a row; ``turns`` are what the next question sees."""

    def __init__(
        self,
        session: AskSession,
        *,
        store: LogStore | None,
        conversation_id: str | None = None,
        turns: list[Turn] | None = None,
    ) -> None:
        self.session = session
        self.store = store  # None: nothing is logged
        self.id = conversation_id or new_conversation_id()
        self.turns: list[Turn] = list(turns or [])

    def ask(self, question: str, stream_to: Callable[[str], None] | None = None) -> Answer:
        before = _usage(self.session.loaded_llm)
        started = time.monotonic()
        answer = self.session.ask(question, stream_to=stream_to, history=self.turns[-MAX_TURNS:])
        elapsed_ms = int((time.monotonic() - started) * 1000)
        after = _usage(self.session.loaded_llm)
        self.turns.append(Turn(answer.question, answer.answer))
        if self.store is not None:
            self._log(answer, elapsed_ms, before, after)
        return answer

    def _log(self, answer: Answer, elapsed_ms: int, before: tuple[int, ...], after: tuple[int, ...]) -> None:
        cfg = self.session.settings.llm
        requests = after[0] - before[0]
        refused_by = getattr(answer, "refused_by", None)
        if answer.refused and not refused_by:
            refused_by = "model" if requests else "retrieval"
        item = LoggedAsk(
            conversation_id=self.id,
            question=answer.question,
            answer=answer.answer,
            citations=[c.arxiv_id for c in answer.citations],
            model=cfg.chat_model if requests else None,
            provider=cfg.provider,
            prompt_tokens=after[1] - before[1],
            completion_tokens=after[2] - before[2],
            duration_ms=elapsed_ms,
            refused=answer.refused,
            refused_by=refused_by,
            language=answer.language,
            out_dir=str(self.session.settings.out_dir),
        )
        assert self.store is not None
        try:
            self.store.record(item)
        except Exception as exc:  # the answer matters more than its log line
            log.warning("could not log this answer in %s: %s", self.store.path, exc)


def start_conversation(
    settings: Settings,
    *,
    session: AskSession | None = None,
    continue_last: bool = False,
    conversation_id: str | None = None,
) -> Conversation:
    """A new conversation, or the last logged one (``continue_last``), or ``conversation_id``."""
    store = LogStore.in_user_dir(settings.user_dir)
    writer = store if settings.logs.enabled else None
    session = session or AskSession(settings)
    if not (continue_last or conversation_id):
        return Conversation(session, store=writer)
    cid = conversation_id or store.last_conversation_id()
    if cid is None:
        log.warning("no earlier conversation in %s: starting a new one", store.path)
        return Conversation(session, store=writer)
    earlier = store.recent(MAX_TURNS, conversation_id=cid)
    if not earlier:
        raise ConfigError(f"no conversation {cid!r} in {store.path} (see `digest logs`)")
    log.info("continuing conversation %s (%d earlier questions)", cid, len(earlier))
    return Conversation(
        session, store=writer, conversation_id=cid, turns=[Turn(e.question, e.answer) for e in earlier]
    )
