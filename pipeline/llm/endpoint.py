"""What one ``LLM`` knows about its endpoint, and how its requests adapt to it.

The capabilities are loaded lazily, just before the first chat request: built in (OpenAI,
Azure, the mock), from the cache (``OUT/cache/capabilities.json``, younger than
``llm.capabilities_max_age_days``) or probed once (``probe.py``; ``llm.probe = false``
skips it).  From them:

- the structured-output mode (``llm.json_mode``, or what the probe found) and the chain's
  steps down, remembered for the process and in the cache;
- system messages folded into the user message where the server drops them;
- requests in flight bounded by what the server runs at once (llama.cpp: one), retries
  lowered to one there (a retried request only queues behind the abandoned one), unless
  ``llm.concurrency`` / ``llm.max_retries`` were set;
- each request's timeout: ``timeout + max_tokens / tokens_per_second``, capped by
  ``max_timeout`` (speed measured by the probe, with headroom, or ``llm.tokens_per_second``);
- the context window, also learnt from a ``context_length_exceeded`` error.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from ..errors import ConfigError, ContextLengthError, LLMError
from .capabilities import MODE_LABELS, Capabilities, CapabilityStore, known_capabilities
from .probe import probe
from .tokens import count_message_tokens

if TYPE_CHECKING:
    import openai

    from ..settings import LLMSettings
    from .usage import HttpTracker

log = logging.getLogger(__name__)

PROSE_LIMIT = 3  # replies in a row that ignore the format before their mode is given up
MIN_OUTPUT_TOKENS = 64
RATIO_MIN_PROMPT = 200  # shorter prompts are mostly the chat template


class Endpoint:
    def __init__(
        self,
        settings: LLMSettings,
        client: openai.OpenAI,
        tracker: HttpTracker,
        base_url: str,
        host: str,
        store: CapabilityStore,
        *,
        local: bool,
    ) -> None:
        self.settings = settings
        self.client = client
        self.tracker = tracker
        self.base_url = base_url
        self.host = host
        self.store = store
        self.local = local
        self.caps: Capabilities | None = None
        self.slots = threading.BoundedSemaphore(max(1, settings.concurrency))
        self._lock = threading.RLock()
        self._prose: dict[str, int] = {}

    @property
    def model(self) -> str:
        return self.settings.chat_model

    def capabilities(self, *, refresh: bool = False, force_probe: bool = False) -> Capabilities:
        """Built in, cached, or probed now (once per process).  ``refresh``: ignore the
        cache; ``force_probe``: probe even a known endpoint (``digest doctor``)."""
        with self._lock:
            if self.caps is not None and not (refresh or force_probe):
                return self.caps
            caps = self._load(refresh, force_probe)
            self.caps = caps
            self.slots = threading.BoundedSemaphore(self.max_in_flight(caps))
            return caps

    def _load(self, refresh: bool, force_probe: bool) -> Capabilities:
        cfg = self.settings
        known = known_capabilities(cfg.provider, cfg.base_url, self.model)
        if known is not None and not force_probe:
            known.base_url = self.base_url
            return known
        if not (refresh or force_probe):
            cached = self.store.get(self.base_url, self.model, cfg.capabilities_max_age_days)
            if cached is not None:
                return cached
        if not (cfg.probe or force_probe):
            return Capabilities(base_url=self.base_url, model=self.model, local=self.local)
        log.info("probing %s for what it supports (once; cached in the output folder)", self.host)
        with self.tracker.muted():
            caps = probe(
                self.client,
                self.base_url,
                self.model,
                local=self.local,
                timeout=min(max(cfg.max_timeout, cfg.timeout), cfg.timeout + 60),
            )
        if known is not None and not caps.server:
            caps.server = known.server
        self.store.put(caps)
        return caps

    def max_in_flight(self, caps: Capabilities) -> int:
        n = max(1, self.settings.concurrency)
        if caps.parallel and not self.settings.is_explicit("concurrency"):
            n = min(n, caps.parallel)
        return n

    def retries(self) -> int:
        n = self.settings.max_retries
        if self.caps is not None and self.caps.parallel == 1 and not self.settings.is_explicit("max_retries"):
            n = min(n, 1)
        return n

    def request_timeout(self, max_tokens: int, *, structured: bool = False) -> float:
        """``timeout + max_tokens / tokens_per_second``, at most ``max_timeout``."""
        cfg = self.settings
        speed = cfg.tokens_per_second
        if speed is None:
            caps = self.caps or Capabilities(base_url=self.base_url, model=self.model, local=self.local)
            speed = caps.speed(structured)
        return round(min(max(cfg.max_timeout, cfg.timeout), cfg.timeout + max_tokens / speed), 1)

    def fit_output(self, messages: list[dict], max_tokens: int, need: int = 0) -> tuple[int, int]:
        """(``max_tokens`` within what the context window leaves after the prompt, so the
        timeout follows what can really come back; the prompt's estimated tokens).

        When the window is known and leaves less than ``need`` tokens (at least
        :data:`MIN_OUTPUT_TOKENS`) for the reply, nothing is sent: :class:`ContextLengthError`
        tells the stage to split (a server would refuse it, truncate the reply, or, like
        Ollama, silently drop the start of the prompt)."""
        estimate = count_message_tokens(messages, self.model)
        caps = self.caps
        if caps is None or not caps.context_window:
            return max_tokens, estimate
        prompt = int(estimate * (caps.token_ratio or 1.0))
        room = caps.context_window - prompt
        need = max(MIN_OUTPUT_TOKENS, min(need, max_tokens))
        if room < need:
            err = ContextLengthError(
                f"the request (~{prompt} prompt tokens + {need} for the reply) does not fit the "
                f"context window of {self.host} ({caps.context_window} tokens, {caps.context_source})"
            )
            err.context_window = caps.context_window
            raise err
        return min(max_tokens, room), estimate

    def note_prompt(self, estimate: int, actual: int) -> None:
        """Learn how many of the server's tokens one of ours (tiktoken) makes: Gemma's tokenizer
        spends about twice as many on Korean.  The largest ratio seen is kept (and cached)."""
        caps = self.caps
        if caps is None or caps.known or estimate < RATIO_MIN_PROMPT or actual <= 0:
            return
        ratio = round(min(4.0, max(0.5, actual / estimate)), 2)
        if caps.token_ratio is None or ratio > caps.token_ratio * 1.05:
            with self._lock:
                caps.token_ratio = ratio
                self.store.put(caps)

    def fold_system(self) -> bool:
        mode = self.settings.system_role
        return mode == "fold" or (mode == "auto" and self.capabilities().system_role is False)

    def served(self, *, listing: bool = False) -> list[str] | None:
        """The models the endpoint serves: from the probe, or (``listing``) asked now."""
        caps = self.caps
        if caps is not None and caps.models:
            return list(caps.models)
        if not listing:
            return None
        try:
            with self.tracker.muted():
                return sorted(m.id for m in self.client.with_options(max_retries=0).models.list())
        except Exception:  # noqa: BLE001 - the list only decorates an error message
            return None

    # -- the structured-output chain ----------------------------------------------------------

    def structured_mode(self) -> str:
        if self.settings.json_mode != "auto":
            return self.settings.json_mode
        return self.capabilities().structured_mode

    def confirmed(self, mode: str) -> bool:
        """Is ``mode`` known to be accepted (so its errors are not a refusal to look for)?"""
        caps = self.capabilities()
        check = caps.modes.get(mode)
        return caps.known or mode == "text" or bool(check and check.accepted)

    def step_down(self, mode: str, why: str) -> str:
        """The server refused ``mode``: remember it (process and cache); the next mode."""
        if self.settings.json_mode != "auto":
            raise ConfigError(
                f"{self.host} refuses structured output mode {mode} ({why}): set llm.json_mode = auto "
                "(or a mode it accepts; `digest doctor` lists them)"
            )
        with self._lock:
            caps = self.capabilities()
            nxt = caps.reject(mode, why)
            self.store.put(caps)
        if nxt is None:
            raise LLMError(f"{self.host} accepts no structured-output mode ({why})")
        log.warning(
            "%s does not take %s output (%s); using %s from now on", self.host, MODE_LABELS[mode], why[:160],
            MODE_LABELS[nxt],
        )  # fmt: skip
        return nxt

    def record_reply(self, mode: str, *, ok: bool, prose: bool) -> None:
        """Count replies that ignore the format; :data:`PROSE_LIMIT` in a row step down."""
        with self._lock:
            self._prose[mode] = 0 if ok or not prose else self._prose.get(mode, 0) + 1
            give_up = self._prose[mode] >= PROSE_LIMIT and mode != "text"
            if give_up:
                self._prose[mode] = 0
        if give_up and self.settings.json_mode == "auto":
            self.step_down(mode, f"{PROSE_LIMIT} replies in a row ignored the format (prose, no JSON)")

    def learn_window(self, err: ContextLengthError) -> None:
        caps = self.caps
        if err.context_window and caps is not None and caps.context_window != err.context_window:
            with self._lock:
                caps.context_window = err.context_window
                caps.context_source = "a context_length_exceeded error"
                self.store.put(caps)
