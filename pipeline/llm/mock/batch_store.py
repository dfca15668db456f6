"""Files and Batch API of the mock LLM, persisted so later processes see earlier batches.

A batch is ``validating`` when created, ``in_progress`` on retrieves before the
configured step count (``batch_steps``, default 1), then ``completed``: every request
line runs through the same chat handler.  Failed items (``batch_fail_ids`` /
``batch_fail_rate`` of the fault plan, or per-request errors) go to the error file.
"""

from __future__ import annotations

import email.parser
import email.policy
import fcntl
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .faults import FaultPlan
from .wire import Reply, error_reply, json_reply

_CHAT_URL = "/v1/chat/completions"

LineHandler = Callable[[dict[str, Any]], tuple[int, dict[str, Any]]]


class BatchStore:
    """``handle_line`` answers one request line (the server's chat handler); ``plan`` gives
    the current fault plan (batch steps, failures, expiry)."""

    def __init__(
        self, handle_line: LineHandler, plan: Callable[[], FaultPlan], state_dir: Path | None
    ) -> None:
        self.handle_line = handle_line
        self.plan = plan
        self.state_dir = state_dir
        self._lock = threading.Lock()
        self._memory: dict[str, Any] = {"files": {}, "batches": {}, "contents": {}}

    # -- persistence ------------------------------------------------------------------------

    @contextmanager
    def _state(self) -> Iterator[dict[str, Any]]:
        """The state, locked across threads and processes; saved on exit."""
        with self._lock:
            if self.state_dir is None:
                yield self._memory
                return
            self.state_dir.mkdir(parents=True, exist_ok=True)
            with open(self.state_dir / ".lock", "a+") as lockf:
                fcntl.flock(lockf, fcntl.LOCK_EX)
                path = self.state_dir / "state.json"
                state = json.loads(path.read_text()) if path.is_file() else {"files": {}, "batches": {}}
                state.setdefault("contents", {})
                yield state
                contents = state.pop("contents")
                for fid, data in contents.items():
                    (self.state_dir / f"{fid}.jsonl").write_bytes(data)
                tmp = path.with_suffix(".tmp")
                tmp.write_text(json.dumps(state, indent=1))
                tmp.replace(path)

    def _read_content(self, state: dict[str, Any], fid: str) -> bytes | None:
        if fid in state["contents"]:
            return state["contents"][fid]
        if self.state_dir is not None and (self.state_dir / f"{fid}.jsonl").is_file():
            return (self.state_dir / f"{fid}.jsonl").read_bytes()
        return None

    # -- routing ----------------------------------------------------------------------------

    def route(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        parts = path.strip("/").split("/")
        if parts[0] == "files":
            if method == "POST" and len(parts) == 1:
                return self._upload(headers, body)
            if method == "GET" and len(parts) == 1:
                with self._state() as st:
                    return json_reply(
                        200, {"object": "list", "data": list(st["files"].values()), "has_more": False}
                    )
            if len(parts) >= 2:
                with self._state() as st:
                    meta = st["files"].get(parts[1])
                    if meta is None:
                        return error_reply(
                            404, f"No such File object: {parts[1]}", None, "invalid_request_error", "id"
                        )
                    if method == "DELETE":
                        st["files"].pop(parts[1])
                        return json_reply(200, {"id": parts[1], "object": "file", "deleted": True})
                    if len(parts) == 3 and parts[2] == "content":
                        data = self._read_content(st, parts[1]) or b""
                        return 200, {"content-type": "application/octet-stream"}, data
                    return json_reply(200, meta)
        if parts[0] == "batches":
            if method == "POST" and len(parts) == 1:
                return self._create(body)
            if method == "GET" and len(parts) == 1:
                with self._state() as st:
                    data = sorted(st["batches"].values(), key=lambda b: b["created_at"], reverse=True)
                    return json_reply(
                        200,
                        {
                            "object": "list",
                            "data": data,
                            "has_more": False,
                            "first_id": data[0]["id"] if data else None,
                            "last_id": data[-1]["id"] if data else None,
                        },
                    )
            if len(parts) >= 2:
                return self._batch_op(method, parts[1], parts[2] if len(parts) > 2 else "")
        return error_reply(
            404, f"Unknown request URL: {method} /v1{path}", "unknown_url", "invalid_request_error"
        )

    # -- files ------------------------------------------------------------------------------

    def _upload(self, headers: dict[str, str], body: bytes) -> Reply:
        fields = _parse_multipart(headers.get("content-type", ""), body)
        if "file" not in fields:
            return error_reply(400, "Missing file in multipart form.", None, "invalid_request_error", "file")
        filename, data = fields["file"]
        purpose = fields.get("purpose", ("", b""))[1].decode()
        if purpose not in (
            "batch",
            "batch_output",
            "assistants",
            "fine-tune",
            "user_data",
            "evals",
            "vision",
        ):
            return error_reply(400, f"Invalid purpose {purpose!r}.", None, "invalid_request_error", "purpose")
        meta = self._new_file(filename or "upload.jsonl", purpose, data)
        with self._state() as st:
            st["files"][meta["id"]] = meta
            st["contents"][meta["id"]] = data
        return json_reply(200, meta)

    @staticmethod
    def _new_file(filename: str, purpose: str, data: bytes) -> dict[str, Any]:
        return {
            "id": f"file-{uuid.uuid4().hex[:24]}",
            "object": "file",
            "bytes": len(data),
            "created_at": int(time.time()),
            "filename": filename,
            "purpose": purpose,
            "status": "processed",
            "expires_at": None,
            "status_details": None,
        }

    # -- batches ----------------------------------------------------------------------------

    def _create(self, body: bytes) -> Reply:
        try:
            req = json.loads(body or b"{}")
        except json.JSONDecodeError:
            return error_reply(
                400, "We could not parse the JSON body of your request.", None, "invalid_request_error"
            )
        fid = req.get("input_file_id")
        if req.get("endpoint") != _CHAT_URL:
            return error_reply(
                400,
                f"Unsupported endpoint {req.get('endpoint')!r} for the mock's batches.",
                None,
                "invalid_request_error",
                "endpoint",
            )
        now = int(time.time())
        with self._state() as st:
            if fid not in st["files"]:
                return error_reply(
                    400,
                    f"Invalid input_file_id {fid!r}: no such file.",
                    None,
                    "invalid_request_error",
                    "input_file_id",
                )
            batch = {
                "id": f"batch_{uuid.uuid4().hex[:24]}",
                "object": "batch",
                "endpoint": _CHAT_URL,
                "errors": None,
                "input_file_id": fid,
                "completion_window": req.get("completion_window", "24h"),
                "status": "validating",
                "output_file_id": None,
                "error_file_id": None,
                "created_at": now,
                "in_progress_at": None,
                "expires_at": now + 86400,
                "finalizing_at": None,
                "completed_at": None,
                "failed_at": None,
                "expired_at": None,
                "cancelling_at": None,
                "cancelled_at": None,
                "request_counts": {"total": 0, "completed": 0, "failed": 0},
                "metadata": req.get("metadata"),
                "_retrieves": 0,
            }
            st["batches"][batch["id"]] = batch
            return json_reply(200, _public(batch))

    def _batch_op(self, method: str, batch_id: str, op: str) -> Reply:
        with self._state() as st:
            batch = st["batches"].get(batch_id)
            if batch is None:
                return error_reply(
                    404, f"No batch found with id '{batch_id}'.", None, "invalid_request_error", "batch_id"
                )
            now = int(time.time())
            if method == "POST" and op == "cancel":
                if batch["status"] in ("validating", "in_progress"):
                    batch.update(status="cancelling", cancelling_at=now)
                return json_reply(200, _public(batch))
            if method != "GET" or op:
                return error_reply(405, "Method not allowed.", None, "invalid_request_error")
            if batch["status"] == "cancelling":
                batch.update(status="cancelled", cancelled_at=now)
            elif batch["status"] in ("validating", "in_progress"):
                batch["_retrieves"] += 1
                if batch["_retrieves"] >= self.plan().batch_steps:
                    self._run(st, batch, now)
                else:
                    batch.update(status="in_progress", in_progress_at=batch["in_progress_at"] or now)
            return json_reply(200, _public(batch))

    def _run(self, st: dict[str, Any], batch: dict[str, Any], now: int) -> None:
        data = self._read_content(st, batch["input_file_id"]) or b""
        out_lines: list[tuple[str, dict[str, Any]]] = []
        errors: list[dict[str, Any]] = []
        for lineno, raw in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
            if not raw.strip():
                continue
            try:
                item = json.loads(raw)
                custom_id, body = item["custom_id"], item["body"]
                if item.get("url") != _CHAT_URL or item.get("method", "POST") != "POST":
                    raise ValueError("url must be /v1/chat/completions")
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                errors.append(
                    {"code": "invalid_request", "message": f"bad request line: {exc}", "line": lineno}
                )
                continue
            out_lines.append((custom_id, body))
        batch["in_progress_at"] = batch["in_progress_at"] or now
        if errors:
            batch.update(status="failed", failed_at=now, errors={"object": "list", "data": errors})
            return
        ok, bad = [], []
        expire_after = self.plan().batch_expire_after
        for n, (custom_id, body) in enumerate(out_lines):
            line_id = f"batch_req_{uuid.uuid4().hex[:24]}"
            if 0 <= expire_after <= n:  # like OpenAI: unfinished requests of an expired batch
                bad.append(
                    {
                        "id": line_id,
                        "custom_id": custom_id,
                        "response": None,
                        "error": {
                            "code": "batch_expired",
                            "message": "This request could not be executed before the completion window expired.",
                        },
                    }
                )
                continue
            if self.plan().batch_item_fails(custom_id):
                bad.append(
                    {
                        "id": line_id,
                        "custom_id": custom_id,
                        "response": None,
                        "error": {
                            "code": "server_error",
                            "message": "The request failed (mock batch fault).",
                        },
                    }
                )
                continue
            status, payload = self.handle_line(body)
            line = {
                "id": line_id,
                "custom_id": custom_id,
                "response": {
                    "status_code": status,
                    "request_id": f"req_{uuid.uuid4().hex[:16]}",
                    "body": payload,
                },
                "error": None,
            }
            (ok if status == 200 else bad).append(line)
        for key, lines in (("output_file_id", ok), ("error_file_id", bad)):
            if lines:
                content = "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines).encode()
                meta = self._new_file(f"{batch['id']}_{key.split('_')[0]}.jsonl", "batch_output", content)
                st["files"][meta["id"]] = meta
                st["contents"][meta["id"]] = content
                batch[key] = meta["id"]
        batch["request_counts"] = {"total": len(out_lines), "completed": len(ok), "failed": len(bad)}
        if 0 <= expire_after < len(out_lines):
            batch.update(status="expired", expired_at=now)
        else:
            batch.update(status="completed", finalizing_at=now, completed_at=now)


def _public(batch: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in batch.items() if not k.startswith("_")}


def _parse_multipart(content_type: str, body: bytes) -> dict[str, tuple[str | None, bytes]]:
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
    )
    fields: dict[str, tuple[str | None, bytes]] = {}
    if not msg.is_multipart():
        return fields
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name:
            fields[str(name)] = (part.get_filename(), part.get_payload(decode=True) or b"")
    return fields
