"""What an endpoint can do, found by the probe (``probe.py``) or known (OpenAI, Azure, the
mock), and its cache in the output folder (``OUT/cache/capabilities.json``, one record per
base URL and model, with the time it was probed).

The structured-output chain is :data:`MODES`, best first: ``json_schema`` (strict schema),
``json_object_schema`` (``{"type": "json_object", "schema": ...}``: llama.cpp turns the
schema into a grammar), ``json_object`` (any JSON; the schema is in the prompt), ``text``
(no ``response_format``; the schema is in the prompt and the reply is parsed tolerantly).
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from ..store.jsonl import replace_atomically
from .presets import OPENAI_BASE_URL, is_official_openai

PROMPT_OVERHEAD_TOKENS = 900  # translate's system prompt, schema and glossary, roughly
REPLY_SECONDS = 180  # a request should finish within this, on a slow server

log = logging.getLogger(__name__)

MODES = ("json_schema", "json_object_schema", "json_object", "text")
MODE_LABELS = {
    "json_schema": "json_schema",
    "json_object_schema": "json_object + schema",
    "json_object": "json_object",
    "text": "plain text",
}
# output tokens per second when nothing was measured: cautious, so timeouts are generous
DEFAULT_TOKENS_PER_SECOND = {"local": 3.0, "remote": 30.0}
SPEED_HEADROOM = 0.5  # timeouts assume half the measured speed (a busy machine, a long reply)


class ModeCheck(BaseModel):
    accepted: bool | None = None  # HTTP 200 to a request in this mode (None: not tried)
    valid: bool | None = None  # the reply was JSON valid against the probe's schema
    constrains: bool | None = None  # the reply held what only the schema asked for
    detail: str = ""  # why not: the status and message, or what came back


class Capabilities(BaseModel):
    base_url: str
    model: str
    probed_at: str = ""  # ISO time, UTC
    known: bool = False  # built in (OpenAI, Azure, the mock): not probed
    server: str = ""  # "llama-cpp-python 0.3.36", "llama.cpp server", "Ollama 0.9", "vLLM"...
    models: list[str] = Field(default_factory=list)
    modes: dict[str, ModeCheck] = Field(default_factory=dict)
    structured_mode: str = "json_schema"  # the first usable mode of the chain
    rejected_modes: dict[str, str] = Field(default_factory=dict)  # mode -> why (probe or a request)
    system_role: bool | None = None  # False: the server ignores system messages
    system_role_detail: str = ""
    context_window: int | None = None
    context_source: str = ""  # where the window came from
    tokens_per_second: float | None = None  # free generation
    structured_tokens_per_second: float | None = None  # in the structured mode chosen
    parallel: int | None = None  # requests the server runs at once (1: one at a time)
    token_ratio: float | None = None  # the server's prompt tokens per tiktoken token (learnt)
    local: bool = False
    probe_requests: int = 0
    probe_seconds: float = 0.0
    notes: list[str] = Field(default_factory=list)

    @property
    def key(self) -> str:
        return cache_key(self.base_url, self.model)

    def chain(self, start: str | None = None) -> list[str]:
        """The modes to use, best first: from ``start`` (default: the chosen one) down,
        without the modes the server rejected."""
        first = MODES.index(start or self.structured_mode)
        return [m for m in MODES[first:] if m not in self.rejected_modes]

    def reject(self, mode: str, why: str) -> str | None:
        """Record that the server refused ``mode``; the next mode of the chain, if any."""
        self.rejected_modes[mode] = why[:300]
        rest = self.chain(mode)
        if self.structured_mode == mode:
            self.structured_mode = rest[0] if rest else "text"
        return rest[0] if rest else None

    def speed(self, structured: bool) -> float:
        """Output tokens per second to plan timeouts with (measured, with headroom)."""
        measured = self.structured_tokens_per_second if structured else None
        measured = measured or self.tokens_per_second
        if measured:
            return max(0.2, measured * SPEED_HEADROOM)
        return DEFAULT_TOKENS_PER_SECOND["local" if self.local else "remote"]

    def batch_tokens(
        self, default: int = 1200, *, overhead: int = PROMPT_OVERHEAD_TOKENS, seconds: float = REPLY_SECONDS
    ) -> int:
        """Source tokens per translation request that suit this endpoint: the prompt
        (``overhead``), the source and its English (about 1.2x, in JSON) fit the context
        window, and the reply comes within ``seconds`` at the speed measured; ``default`` when
        nothing is known (a multiple of 50, at least 100)."""
        budget = default
        if self.context_window:
            window = self.context_window / (self.token_ratio or 1.0)  # in tiktoken tokens
            budget = min(budget, int((window - overhead) / 2.2))
        if self.tokens_per_second or self.structured_tokens_per_second:
            budget = min(budget, int(self.speed(structured=True) * seconds / 1.2))
        return max(100, budget // 50 * 50)

    def age_days(self, now: datetime | None = None) -> float:
        if not self.probed_at:
            return float("inf")
        try:
            then = datetime.fromisoformat(self.probed_at)
        except ValueError:
            return float("inf")
        return ((now or datetime.now(UTC)) - then).total_seconds() / 86400


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def cache_key(base_url: str, model: str) -> str:
    return f"{base_url.rstrip('/')} {model}"


def known_capabilities(provider: str, base_url: str | None, model: str) -> Capabilities | None:
    """Capabilities that need no probe: OpenAI's own API, Azure OpenAI and the mock."""
    if provider == "mock" or provider == "azure" or is_official_openai(provider, base_url):
        server = {"mock": "the offline mock", "azure": "Azure OpenAI"}.get(provider, "OpenAI")
        return Capabilities(
            base_url=base_url or OPENAI_BASE_URL,
            model=model,
            known=True,
            server=server,
            structured_mode="json_schema",
            system_role=True,
            parallel=None,
        )
    return None


class CapabilityStore:
    """``OUT/cache/capabilities.json``: ``{"endpoints": {"<base URL> <model>": {...}}}``.
    Written atomically; an unreadable file is ignored (the endpoint is probed again)."""

    def __init__(self, path: Path | None) -> None:
        self.path = Path(path) if path else None
        self._lock = threading.Lock()

    def _read(self) -> dict[str, Any]:
        if self.path is None or not self.path.is_file():
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            log.warning("ignoring unreadable %s (%s): the endpoint will be probed again", self.path, exc)
            return {}
        endpoints = data.get("endpoints") if isinstance(data, dict) else None
        return endpoints if isinstance(endpoints, dict) else {}

    def get(self, base_url: str, model: str, max_age_days: float | None = None) -> Capabilities | None:
        with self._lock:
            raw = self._read().get(cache_key(base_url, model))
        if raw is None:
            return None
        try:
            caps = Capabilities.model_validate(raw)
        except ValidationError:
            return None
        if max_age_days is not None and caps.age_days() > max_age_days:
            return None
        return caps

    def served_models(self, base_url: str) -> list[str] | None:
        """The models an endpoint listed when it was last probed (any model's record)."""
        prefix = cache_key(base_url, "")
        with self._lock:
            records = [v for k, v in self._read().items() if k.startswith(prefix) and isinstance(v, dict)]
        for rec in records:
            if rec.get("models"):
                return list(rec["models"])
        return None

    def put(self, caps: Capabilities) -> None:
        if self.path is None or caps.known:
            return
        with self._lock:
            endpoints = self._read()
            endpoints[caps.key] = caps.model_dump(mode="json")
            doc = {"version": 1, "endpoints": endpoints}
            text = json.dumps(doc, indent=2, ensure_ascii=False)
            replace_atomically(self.path, lambda f: f.write(text), shared=True)  # a cache: no lock
