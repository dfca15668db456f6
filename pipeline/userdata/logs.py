"""Every ``digest ask`` kept in SQLite in the user dir (``logs.db``, mode 0600): question,
answer, citations, model, tokens, time, and why it was refused; listed, searched, and
continued (``digest ask -c``).  Turned off by ``logs.enabled = false`` or ``--no-log``.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, Field

from ..errors import DigestError
from ..logsafe import redact
from .paths import PRIVATE_MODE, UserDir

SCHEMA = """
CREATE TABLE IF NOT EXISTS asks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id TEXT NOT NULL,
    created TEXT NOT NULL,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    citations TEXT NOT NULL DEFAULT '[]',
    model TEXT,
    provider TEXT,
    prompt_tokens INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    duration_ms INTEGER NOT NULL DEFAULT 0,
    refused INTEGER NOT NULL DEFAULT 0,
    refused_by TEXT,
    language TEXT,
    out_dir TEXT
);
CREATE INDEX IF NOT EXISTS asks_by_conversation ON asks (conversation_id, id);
"""
_COLUMNS = (
    "id, conversation_id, created, question, answer, citations, model, provider, prompt_tokens, "
    "completion_tokens, duration_ms, refused, refused_by, language, out_dir"
)


class LoggedAsk(BaseModel):
    """One logged question and its answer."""

    id: int | None = None
    conversation_id: str
    created: datetime = Field(default_factory=lambda: datetime.now(UTC))
    question: str
    answer: str
    citations: list[str] = Field(default_factory=list)  # arXiv ids cited, in order
    model: str | None = None
    provider: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    duration_ms: int = 0
    refused: bool = False
    refused_by: str | None = None  # what refused: retrieval (nothing relevant) or the model
    language: str | None = None
    out_dir: str | None = None


def new_conversation_id() -> str:
    return uuid.uuid4().hex[:12]


class LogStore:
    """The SQLite file of asks.  Opened per call: several ``digest`` processes may share it."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @classmethod
    def in_user_dir(cls, user_dir: Path | UserDir) -> LogStore:
        ud = user_dir if isinstance(user_dir, UserDir) else UserDir(user_dir)
        return cls(ud.logs_path)

    @contextlib.contextmanager
    def _connect(self, *, create: bool) -> Iterator[sqlite3.Connection]:
        if create and not self.path.exists():
            UserDir(self.path.parent).ensure()
            fd = os.open(self.path, os.O_CREAT | os.O_WRONLY, PRIVATE_MODE)  # questions are private
            os.close(fd)
        try:
            conn = sqlite3.connect(self.path, timeout=10)
        except sqlite3.Error as exc:
            raise DigestError(f"cannot open the logs {self.path}: {exc}") from None
        try:
            conn.executescript(SCHEMA)
            with conn:
                yield conn
        except sqlite3.DatabaseError as exc:
            raise DigestError(f"the logs {self.path} cannot be used: {exc}") from None
        finally:
            conn.close()

    def record(self, item: LoggedAsk) -> LoggedAsk:
        """Store ``item`` (secrets redacted); returns it with its id."""
        with self._connect(create=True) as conn:
            cur = conn.execute(
                "INSERT INTO asks (conversation_id, created, question, answer, citations, model, provider,"
                " prompt_tokens, completion_tokens, duration_ms, refused, refused_by, language, out_dir)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    item.conversation_id,
                    item.created.astimezone(UTC).isoformat(timespec="seconds"),
                    redact(item.question),
                    redact(item.answer),
                    json.dumps(item.citations),
                    item.model,
                    item.provider,
                    item.prompt_tokens,
                    item.completion_tokens,
                    item.duration_ms,
                    int(item.refused),
                    item.refused_by,
                    item.language,
                    item.out_dir,
                ),
            )
            return item.model_copy(update={"id": cur.lastrowid})

    def _select(self, where: str, params: tuple[object, ...], limit: int) -> list[LoggedAsk]:
        if not self.path.exists():
            return []
        with self._connect(create=False) as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM asks {where} ORDER BY id DESC LIMIT ?",  # noqa: S608 - fixed SQL
                (*params, max(0, limit)),
            ).fetchall()
        return [_row(r) for r in reversed(rows)]  # oldest first, like a transcript

    def recent(self, n: int = 10, conversation_id: str | None = None) -> list[LoggedAsk]:
        """The last ``n`` asks (of one conversation), oldest first."""
        if conversation_id:
            return self._select("WHERE conversation_id = ?", (conversation_id,), n)
        return self._select("", (), n)

    def search(self, text: str, n: int = 10) -> list[LoggedAsk]:
        """The last ``n`` asks whose question or answer contains ``text`` (case-insensitive)."""
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        return self._select(
            "WHERE question LIKE ? ESCAPE '\\' OR answer LIKE ? ESCAPE '\\'", (pattern, pattern), n
        )

    def last_conversation_id(self) -> str | None:
        last = self.recent(1)
        return last[0].conversation_id if last else None

    def count(self) -> int:
        if not self.path.exists():
            return 0
        with self._connect(create=False) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM asks").fetchone()[0])


def _row(r: tuple) -> LoggedAsk:
    return LoggedAsk(
        id=r[0],
        conversation_id=r[1],
        created=datetime.fromisoformat(r[2]),
        question=r[3],
        answer=r[4],
        citations=json.loads(r[5] or "[]"),
        model=r[6],
        provider=r[7],
        prompt_tokens=r[8] or 0,
        completion_tokens=r[9] or 0,
        duration_ms=r[10] or 0,
        refused=bool(r[11]),
        refused_by=r[12],
        language=r[13],
        out_dir=r[14],
    )
