"""The OpenAPI 3.1 document of ``digest serve``'s API, generated from the pydantic models in
``schema.py`` (``GET /openapi.json``; a copy is checked in as ``docs/openapi.json``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from ..taxonomy import Topic
from .schema import (
    AskRequest,
    AskResponse,
    EntryResponse,
    ErrorResponse,
    Health,
    NewsletterList,
    SearchResponse,
)

MODELS: list[type[BaseModel]] = [
    SearchResponse,
    AskRequest,
    AskResponse,
    EntryResponse,
    NewsletterList,
    Health,
    ErrorResponse,
]


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _json(model: type[BaseModel], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(model)}}}


def _errors(*codes: int) -> dict[str, Any]:
    text = {
        400: "A bad parameter (named in error.parameter).",
        404: "Not found.",
        502: "The LLM endpoint failed.",
        503: "The server cannot answer now (e.g. no LLM configured).",
    }
    return {str(c): _json(ErrorResponse, text[c]) for c in codes}


def _query(name: str, schema: dict[str, Any], description: str, required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "schema": schema, "description": description}


def _paths() -> dict[str, Any]:
    date = {"type": "string", "format": "date"}
    return {
        "/api/search": {
            "get": {
                "operationId": "search",
                "summary": "Hybrid search (vectors + English and Korean BM25); the same hits as `digest search`.",
                "parameters": [
                    _query("q", {"type": "string", "minLength": 1, "maxLength": 2000}, "The query.", True),
                    _query(
                        "k", {"type": "integer", "minimum": 1, "maximum": 100}, "Results (default search.k)."
                    ),
                    _query("since", date, "Only digests from this date."),
                    _query("until", date, "Only digests up to this date."),
                    _query("topic", {"type": "string", "enum": [t.value for t in Topic]}, "Only this topic."),
                    _query(
                        "min_votes", {"type": "integer", "minimum": 0}, "Only entries with this many votes."
                    ),
                ],
                "responses": {"200": _json(SearchResponse, "The hits, best first."), **_errors(400)},
            }
        },
        "/api/ask": {
            "post": {
                "operationId": "ask",
                "summary": "Answer a question from the digests, with citations; the same JSON as `digest ask --json`.",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref(AskRequest)}},
                },
                "responses": {
                    "200": _json(AskResponse, "The answer (or the refusal)."),
                    **_errors(400, 502, 503),
                },
            }
        },
        "/api/entries/{id}": {
            "get": {
                "operationId": "entry",
                "summary": "One indexed entry by its id (the arXiv id, or title-<hash>).",
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {"200": _json(EntryResponse, "The entry."), **_errors(404)},
            }
        },
        "/api/newsletters": {
            "get": {
                "operationId": "newsletters",
                "summary": "The newsletter issues `digest newsletter` wrote, newest first.",
                "responses": {"200": _json(NewsletterList, "The issues and their formats.")},
            }
        },
        "/api/newsletters/{date}": {
            "get": {
                "operationId": "newsletter",
                "summary": "One issue as Markdown, HTML or RSS.",
                "parameters": [
                    {
                        "name": "date",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                        "description": "YYYY-MM-DD, YYYY-MM-DD_YYYY-MM-DD (a range) or latest.",
                    },
                    _query(
                        "format",
                        {"type": "string", "enum": ["md", "html", "rss"], "default": "html"},
                        "Format.",
                    ),
                ],
                "responses": {
                    "200": {
                        "description": "The issue.",
                        "content": {
                            "text/markdown": {"schema": {"type": "string"}},
                            "text/html": {"schema": {"type": "string"}},
                            "application/rss+xml": {"schema": {"type": "string"}},
                        },
                    },
                    **_errors(400, 404),
                },
            }
        },
        "/api/health": {
            "get": {
                "operationId": "health",
                "summary": "The server is up: its folder, index size and settings fingerprint.",
                "responses": {"200": _json(Health, "Up.")},
            }
        },
    }


def openapi_document(version: str = "0.1.0") -> dict[str, Any]:
    _, defs = models_json_schema(
        [(m, "validation" if m is AskRequest else "serialization") for m in MODELS],
        ref_template="#/components/schemas/{model}",
    )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "digest serve",
            "version": version,
            "description": "Search and ask the digests' knowledge base of one output folder.",
        },
        "servers": [{"url": "http://127.0.0.1:8765"}],
        "paths": _paths(),
        "components": {"schemas": defs.get("$defs", {})},
    }
