"""The capability probe: what an OpenAI-compatible endpoint really does, asked with a few
tiny requests (about ten, ~10-60 s on a slow local server; none is retried).

- the models it serves, and which server it is (llama.cpp's llama-server, llama-cpp-python,
  Ollama, vLLM, LM Studio, from their own endpoints);
- each structured-output mode: accepted? the reply valid? constrained by the schema (a key
  the prompt never mentions comes back only when the server enforces the schema)?
- whether system messages reach the model (the same request with and without one must
  cost more prompt tokens with it: llama-cpp-python's gemma format drops them);
- the context window where the server tells it (llama-server ``/props``, ``/v1/models``
  ``meta.n_ctx``, vLLM ``max_model_len``, LM Studio ``/api/v0/models``, Ollama
  ``/api/show``; llama-cpp-python states it in the error to an over-long prompt, which it
  rejects after tokenising, before any generation);
- output tokens per second on a short generation.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import httpx
import openai

from ..errors import ConfigError, LLMError
from .capabilities import MODES, Capabilities, ModeCheck, now_iso
from .extract import extract_json
from .failures import reason_of
from .quirks import context_window_from, error_text, is_model_not_found, rejects_format
from .structured import mode_request

log = logging.getLogger(__name__)

PROBE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"probe": {"type": "string", "enum": ["zq7"]}},
    "required": ["probe"],
    "additionalProperties": False,
}
PROBE_PROMPT = "Describe today's weather as a small JSON object."
SYSTEM_TEXT = "You are a careful assistant. Answer in English, briefly and politely, in one sentence."
OVERSIZED_WORDS = 40_000  # longer than the window of any CPU llama-cpp-python server


class Prober:
    def __init__(self, client: openai.OpenAI, caps: Capabilities, *, timeout: float) -> None:
        self.client = client.with_options(max_retries=0, timeout=timeout)
        self.caps = caps
        self.root = caps.base_url.rstrip("/").removesuffix("/v1")
        self.host = httpx.URL(caps.base_url).netloc.decode() or caps.base_url

    # -- plumbing -----------------------------------------------------------------------

    def _raw(self, method: str, url: str, body: Any = None, timeout: float = 10.0) -> Any:
        """JSON of a GET/POST, or None (404, not JSON, any error: the endpoint is optional)."""
        self.caps.probe_requests += 1
        try:
            client = self.client.with_options(timeout=timeout)
            if method == "GET":
                resp = client.get(url, cast_to=httpx.Response)
            else:
                resp = client.post(url, cast_to=httpx.Response, body=body)
            return resp.json()
        except (openai.OpenAIError, ValueError) as exc:
            log.debug("probe %s %s: %s", method, url, type(exc).__name__)
            return None

    def _chat(self, messages: list[dict], max_tokens: int, **params: Any) -> tuple[Any, float]:
        self.caps.probe_requests += 1
        t0 = time.monotonic()
        resp = self.client.chat.completions.create(
            model=self.caps.model, messages=messages, max_tokens=max_tokens, temperature=0, **params
        )
        return resp, time.monotonic() - t0

    def _fatal(self, exc: openai.OpenAIError) -> None:
        """Errors that end the probe: unreachable, rejected key, unknown model."""
        if isinstance(exc, openai.APIConnectionError):
            raise LLMError(f"cannot reach the LLM endpoint at {self.host}") from None
        if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
            raise ConfigError(
                f"the endpoint rejected the API key ({self.host}, HTTP {exc.status_code})"
            ) from None
        if isinstance(exc, openai.APIStatusError) and is_model_not_found(
            exc.status_code, error_text(exc.body, exc.message)
        ):
            served = ", ".join(self.caps.models[:20]) or "none listed"
            raise ConfigError(
                f"unknown model {self.caps.model!r} at {self.host}; it serves: {served} (set --model)"
            ) from None

    # -- steps --------------------------------------------------------------------------

    def models(self) -> list[dict]:
        try:
            self.caps.probe_requests += 1
            data = self.client.get("/models", cast_to=httpx.Response).json()
        except openai.APIStatusError as exc:
            self._fatal(exc)
            self.caps.notes.append(f"GET /models: HTTP {exc.status_code}")
            return []
        except openai.OpenAIError as exc:
            self._fatal(exc)
            raise
        except ValueError:
            return []
        items = [d for d in (data.get("data") or []) if isinstance(d, dict)] if isinstance(data, dict) else []
        self.caps.models = sorted(str(d.get("id")) for d in items if d.get("id"))
        return items

    def identify(self, items: list[dict]) -> None:
        """Which server, and the context window and parallelism where it says them."""
        caps = self.caps
        mine = next((d for d in items if d.get("id") == caps.model), items[0] if len(items) == 1 else {})
        owner = str(mine.get("owned_by") or "")
        if mine.get("max_model_len"):
            caps.server = "vLLM"
            self._window(int(mine["max_model_len"]), "vLLM max_model_len in /v1/models")
        if isinstance(mine.get("meta"), dict) and mine["meta"].get("n_ctx"):
            self._window(int(mine["meta"]["n_ctx"]), "meta.n_ctx in /v1/models (llama-server)")
        if owner == "vllm":
            caps.server = "vLLM"
            return
        props = self._raw("GET", self.root + "/props")
        if isinstance(props, dict) and ("default_generation_settings" in props or "total_slots" in props):
            caps.server = "llama.cpp server (llama-server)"
            settings = props.get("default_generation_settings") or {}
            n_ctx = settings.get("n_ctx") or props.get("n_ctx")
            if n_ctx:
                self._window(int(n_ctx), "/props default_generation_settings.n_ctx (llama-server)")
            caps.parallel = int(props.get("total_slots") or 1)
            return
        api = self._raw("GET", self.root + "/openapi.json")
        title = str(((api or {}).get("info") or {}).get("title") or "") if isinstance(api, dict) else ""
        if "llama.cpp python" in title.lower():
            caps.server = f"llama-cpp-python {api['info'].get('version', '')}".strip()
            caps.parallel = 1
            return
        version = self._raw("GET", self.root + "/api/version")
        if isinstance(version, dict) and version.get("version"):
            caps.server = f"Ollama {version['version']}"
            self._ollama_window()
            return
        self._lm_studio()

    def _lm_studio(self) -> None:
        """LM Studio: ``/api/v1/models`` (0.4+: the loaded context), else ``/api/v0/models``
        (the model's maximum, or the loaded one when it says)."""
        caps = self.caps
        v1 = self._raw("GET", self.root + "/api/v1/models")
        for m in (v1 or {}).get("models") or [] if isinstance(v1, dict) else []:
            if isinstance(m, dict) and caps.model in (m.get("key"), m.get("id")):
                caps.server, caps.parallel = "LM Studio", 1
                loaded = [i.get("config", {}) for i in m.get("loaded_instances") or [] if isinstance(i, dict)]
                sizes = [int(c["context_length"]) for c in loaded if c.get("context_length")]
                if sizes or m.get("max_context_length"):
                    self._window(min(sizes or [int(m["max_context_length"])]), "LM Studio /api/v1/models")
                return
        lms = self._raw("GET", self.root + "/api/v0/models")
        if isinstance(lms, dict) and isinstance(lms.get("data"), list):
            caps.server, caps.parallel = "LM Studio", 1
            for d in lms["data"]:
                if isinstance(d, dict) and d.get("id") == caps.model:
                    n = d.get("loaded_context_length") or d.get("max_context_length")
                    if n:
                        self._window(int(n), "LM Studio /api/v0/models")

    def _ollama_window(self) -> None:
        show = self._raw("POST", self.root + "/api/show", {"model": self.caps.model})
        if not isinstance(show, dict):
            return
        sizes = [
            int(v) for k, v in (show.get("model_info") or {}).items() if k.endswith(".context_length") and v
        ]
        for line in str(show.get("parameters") or "").splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] == "num_ctx" and parts[1].isdigit():
                sizes.append(int(parts[1]))
        ps = self._raw("GET", self.root + "/api/ps")
        for m in (ps or {}).get("models") or [] if isinstance(ps, dict) else []:
            if isinstance(m, dict) and m.get("name") == self.caps.model and m.get("context_length"):
                sizes.append(int(m["context_length"]))
        if sizes:
            self._window(min(sizes), "Ollama /api/show and /api/ps (num_ctx, context_length)")

    def _window(self, n: int, source: str) -> None:
        if n > 0 and (self.caps.context_window is None or n < self.caps.context_window):
            self.caps.context_window, self.caps.context_source = n, source

    def modes(self) -> None:
        user = [{"role": "user", "content": PROBE_PROMPT}]
        for mode in MODES[:-1]:
            check = ModeCheck()
            messages, rf = mode_request(mode, user, PROBE_SCHEMA, "probe")
            try:
                resp, seconds = self._chat(messages, 32, response_format=rf)
            except openai.APIStatusError as exc:
                self._fatal(exc)
                text = error_text(exc.body, exc.message)
                check.accepted = False
                check.detail = f"HTTP {exc.status_code}: {reason_of(exc)[:160]}"
                if rejects_format(exc.status_code, text, sent_format=True):
                    self.caps.reject(mode, check.detail)
                self.caps.modes[mode] = check
                continue
            except openai.OpenAIError as exc:
                self._fatal(exc)
                check.detail = f"no answer ({type(exc).__name__})"
                self.caps.modes[mode] = check
                continue
            check.accepted = True
            content = (resp.choices[0].message.content or "") if resp.choices else ""
            value, why = extract_json(content)
            is_object = isinstance(value, dict)
            check.valid = is_object and (mode == "json_object" or value == {"probe": "zq7"})
            if mode != "json_object":
                check.constrains = is_object and value.get("probe") == "zq7"
            finish = resp.choices[0].finish_reason if resp.choices else "none"
            check.detail = "" if check.valid else (why or f"reply {content[:60]!r}") + f" (finish {finish})"
            tokens = getattr(resp.usage, "completion_tokens", 0) or 0
            if check.valid and check.constrains and seconds > 0 and tokens:
                self.caps.structured_tokens_per_second = round(tokens / seconds, 2)
            self.caps.modes[mode] = check
        self.caps.structured_mode = choose_mode(self.caps)

    def system_role(self) -> None:
        base = [{"role": "user", "content": "Hello"}]
        try:
            without, _ = self._chat(base, 1)
            with_sys, _ = self._chat([{"role": "system", "content": SYSTEM_TEXT}, *base], 1)
        except openai.APIStatusError as exc:
            self._fatal(exc)
            self.caps.system_role = False
            self.caps.system_role_detail = f"a system message gets HTTP {exc.status_code}"
            return
        except openai.OpenAIError as exc:
            self.caps.system_role_detail = f"not checked ({type(exc).__name__})"
            return
        a = getattr(without.usage, "prompt_tokens", None)
        b = getattr(with_sys.usage, "prompt_tokens", None)
        if not a or not b:
            self.caps.system_role_detail = "not checked (the server reports no prompt tokens)"
            return
        self.caps.system_role = b > a
        self.caps.system_role_detail = f"prompt_tokens {a} without a system message, {b} with one"

    def oversized_prompt(self) -> None:
        """llama-cpp-python only: it tokenises, sees the prompt does not fit, answers 400 with
        the window in the message, and never generates."""
        words = " ".join(["word"] * OVERSIZED_WORDS)
        try:
            self._chat([{"role": "user", "content": words}], 1)
        except openai.APIStatusError as exc:
            n = context_window_from(error_text(exc.body, exc.message))
            if n:
                self._window(n, "the error to an over-long prompt (context_length_exceeded)")
        except openai.OpenAIError:
            pass

    def speed(self) -> None:
        messages = [{"role": "user", "content": "Count from 1 to 100, separated by spaces."}]
        try:
            resp, seconds = self._chat(messages, 48)
        except openai.OpenAIError as exc:
            self.caps.notes.append(f"speed not measured ({type(exc).__name__})")
            return
        tokens = getattr(resp.usage, "completion_tokens", 0) or 0
        if tokens and seconds > 0:
            self.caps.tokens_per_second = round(tokens / seconds, 2)


def choose_mode(caps: Capabilities) -> str:
    """The best mode of the chain: valid replies first, then any accepted mode."""
    for want_valid in (True, False):
        for mode in MODES[:-1]:
            check = caps.modes.get(mode)
            if (
                check
                and check.accepted
                and (check.valid or not want_valid)
                and mode not in caps.rejected_modes
            ):
                return mode
    return "text"


def probe(client: openai.OpenAI, base_url: str, model: str, *, local: bool, timeout: float) -> Capabilities:
    """Probe one endpoint and model (``client``: the SDK client of the endpoint)."""
    caps = Capabilities(base_url=base_url, model=model, probed_at=now_iso(), local=local)
    t0 = time.monotonic()
    prober = Prober(client, caps, timeout=timeout)
    items = prober.models()
    prober.identify(items)
    if caps.models and model not in caps.models:
        caps.notes.append(f"{model!r} is not in the model list ({', '.join(caps.models[:10])})")
    prober.modes()
    prober.system_role()
    if caps.context_window is None and caps.server.startswith("llama-cpp-python"):
        prober.oversized_prompt()
    prober.speed()
    caps.probe_seconds = round(time.monotonic() - t0, 2)
    log.info(
        "probed %s (%s): structured output %s, system role %s, context %s, %.1f tok/s; %d requests in %.0f s",
        base_url,
        caps.server or "unknown server",
        caps.structured_mode,
        {True: "kept", False: "ignored", None: "unknown"}[caps.system_role],
        caps.context_window or "unknown",
        caps.tokens_per_second or 0.0,
        caps.probe_requests,
        caps.probe_seconds,
    )
    return caps
