"""The JSON shapes of ``digest serve``'s API, as pydantic models (the OpenAPI document is
generated from them, ``openapi.py``).  ``answer_json`` is also ``digest ask --json``: the
CLI and the API answer with the same object."""

from __future__ import annotations

from datetime import date as Date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..records import Answer, Hit, IndexDoc


class RetrievedRef(BaseModel):
    """One entry retrieval gave the LLM: its ids and scores."""

    arxiv_id: str | None = None
    entry_id: str
    title: str
    score: float
    relevance: float | None = None
    ranks: dict[str, int] = Field(default_factory=dict)


class AskResponse(Answer):
    """The answer to a question, as ``digest ask --json`` prints it."""

    retrieved: list[RetrievedRef] = Field(default_factory=list)  # type: ignore[assignment]


def answer_json(answer: Answer) -> dict[str, Any]:
    """``answer`` as ``digest ask --json`` and ``POST /api/ask`` give it."""
    data = answer.model_dump(mode="json")
    data["retrieved"] = [
        RetrievedRef.model_validate(h.model_dump(include=set(RetrievedRef.model_fields))).model_dump(
            mode="json"
        )
        for h in answer.retrieved
    ]
    return AskResponse.model_validate(data).model_dump(mode="json")


def answer_from_json(data: dict[str, Any]) -> Answer:
    """The inverse of :func:`answer_json` (retrieved entries keep their ids and scores)."""
    resp = AskResponse.model_validate(data)
    fields = resp.model_dump(exclude={"retrieved"})
    hits = [Hit(**r.model_dump()) for r in resp.retrieved]
    return Answer(**{k: v for k, v in fields.items() if k in Answer.model_fields}, retrieved=hits)


class Turn(BaseModel):
    question: str
    answer: str


class AskRequest(BaseModel):
    """A question.  ``history``: earlier questions and answers of the conversation, oldest
    first, for a follow-up question (the caller keeps the conversation)."""

    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, description="The question, in English or Korean.")
    lang: Literal["en", "ko"] | None = Field(None, description="Answer language (default: the question's).")
    k: int | None = Field(None, ge=1, le=100, description="Entries given to the LLM (default: ask.k).")
    history: list[Turn] = Field(default_factory=list, max_length=50)


class SearchResponse(BaseModel):
    query: str
    k: int
    hits: list[Hit] = Field(description="Best first; the same records as `digest search --json`.")
    weak_match: bool = Field(
        False, description="Even the best hit covers the query poorly (below search.min_relevance)."
    )


class EntryResponse(IndexDoc):
    """One indexed entry: title, date, votes, topic, authors, English and Korean text."""

    url: str | None = Field(None, description="The arXiv abstract page.")


class NewsletterInfo(BaseModel):
    id: str = Field(description="The issue's date (2024-10-21) or range (2024-10-21_2024-10-22).")
    since: Date | None = None
    until: Date | None = None
    formats: list[str] = Field(description="The formats written for it: md, html, rss.")


class NewsletterList(BaseModel):
    newsletters: list[NewsletterInfo] = Field(description="Newest first.")


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    version: str
    pid: int
    out_dir: str
    documents: int = Field(description="Entries in the index.")
    uptime_s: float
    settings: str = Field(description="Fingerprint of the settings search and ask depend on.")
    ready: bool = Field(description="The models are loaded (until then, requests wait for them).")


class ErrorDetail(BaseModel):
    status: int
    message: str
    parameter: str | None = Field(None, description="The bad parameter, for a 400.")


class ErrorResponse(BaseModel):
    error: ErrorDetail
