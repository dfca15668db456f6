"""Thin helpers over the SDK's Files and Batches APIs (OpenAI, or the mock)."""

from __future__ import annotations

import json
from typing import Any

from .client import LLM

CHAT_URL = "/v1/chat/completions"


def request_line(custom_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """One line of a batch input file."""
    return {"custom_id": custom_id, "method": "POST", "url": CHAT_URL, "body": body}


def upload_requests(llm: LLM, lines: list[dict[str, Any]], *, filename: str = "batch.jsonl") -> str:
    """Upload request lines as a JSONL file (purpose=batch); returns the file id."""
    data = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines).encode()
    with llm.raw_call():
        return llm.client.files.create(file=(filename, data, "application/jsonl"), purpose="batch").id


def create_batch(
    llm: LLM, file_id: str, *, completion_window: str = "24h", metadata: dict[str, str] | None = None
) -> Any:
    with llm.raw_call():
        return llm.client.batches.create(
            input_file_id=file_id,
            endpoint=CHAT_URL,
            completion_window=completion_window,  # type: ignore[arg-type]
            metadata=metadata,
        )


def retrieve(llm: LLM, batch_id: str) -> Any:
    with llm.raw_call():
        return llm.client.batches.retrieve(batch_id)


def cancel(llm: LLM, batch_id: str) -> Any:
    with llm.raw_call():
        return llm.client.batches.cancel(batch_id)


def download(llm: LLM, file_id: str) -> list[dict[str, Any]]:
    """The JSONL lines of an output or error file."""
    with llm.raw_call():
        text = llm.client.files.content(file_id).text
    return [json.loads(line) for line in text.splitlines() if line.strip()]
