"""Deterministic fault injection for the mock LLM.

A spec string such as ``rate=0.3,kinds=429+500+timeout,latency_ms=200,seed=7`` (the
``llm.mock_faults`` setting) becomes a ``FaultPlan``.  Whether a request gets a fault
depends only on the seed, the request body and how many times that same body was
seen before, so a run is reproducible whatever the thread interleaving, and a retry
of a failed request gets a fresh draw.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, fields

from ...errors import ConfigError

KINDS = ("429", "500", "timeout", "malformed", "truncate", "korean", "refusal")
SCRIPT_ITEMS = (*KINDS, "ok")
ADVERSARIAL = ("numbers", "hangul", "ids", "inject", "cite", "echo", "prose")  # see adversary.py


def damage_reply(fault: str | None, content: str) -> tuple[str | None, str]:
    """A good reply as a content fault leaves it: (content, finish_reason).  ``malformed``
    breaks the JSON, ``truncate`` cuts it in half (finish ``length``), ``refusal`` leaves none."""
    if fault == "malformed":
        return (
            content[: max(1, len(content) // 2)] + '", "' if content.startswith("{") else "{" + content
        ), "stop"
    if fault == "truncate":
        return content[: max(1, len(content) // 2)], "length"
    if fault == "refusal":
        return None, "stop"
    return content, "stop"


@dataclass
class FaultPlan:
    rate: float = 0.0
    kinds: tuple[str, ...] = ("429", "500", "timeout", "malformed", "truncate")
    latency_ms: int = 0
    latency_after: int = 0  # the first N chat requests are answered without the latency
    seed: int = 0
    retry_after_ms: int = 20
    hang_ms: int = 0  # server mode: how long a "timeout" hangs before dropping the connection
    endpoints: tuple[str, ...] = ("chat",)
    batch_fail_ids: tuple[str, ...] = ()
    batch_fail_rate: float = 0.0
    batch_steps: int = 1  # retrieves before a batch completes
    batch_expire_after: int = -1  # >= 0: the batch expires after that many requests ran
    replay: tuple[str, ...] = ()  # quirk fixtures answering the next requests, in order (replay.py)
    adversarial: tuple[str, ...] = ()  # replies of a careless or manipulated model (adversary.py)
    adversarial_rate: float = 1.0  # share of (otherwise fault-free) chat replies rewritten

    def __post_init__(self) -> None:
        bad = [k for k in self.kinds if k not in KINDS]
        if bad:
            raise ConfigError(f"unknown mock fault kind(s) {bad}; known: {', '.join(KINDS)}")
        bad = [k for k in self.adversarial if k not in ADVERSARIAL]
        if bad:
            raise ConfigError(f"unknown adversarial behaviour(s) {bad}; known: {', '.join(ADVERSARIAL)}")
        rates = (self.rate, self.batch_fail_rate, self.adversarial_rate)
        if not all(0.0 <= r <= 1.0 for r in rates):
            raise ConfigError("mock fault rates must be between 0 and 1")

    def adversarial_turn(self, body: dict) -> bool:
        """Is this chat request answered adversarially (``adversarial_rate``; the same request
        body always gets the same answer, a re-ask is a new body)?"""
        if not self.adversarial:
            return False
        key = json.dumps(body.get("messages"), sort_keys=True, ensure_ascii=False)
        return _unit(f"adversarial:{self.seed}:{key}") < self.adversarial_rate

    def batch_item_fails(self, custom_id: str) -> bool:
        """Does this batch request line fail (``batch_fail_ids`` / ``batch_fail_rate``)?"""
        if custom_id in self.batch_fail_ids:
            return True
        return self.batch_fail_rate > 0 and _unit(f"batch:{self.seed}:{custom_id}") < self.batch_fail_rate


def _converters() -> dict[str, Callable[[str], object]]:
    """How each setting of :class:`FaultPlan` is read from the spec, from its type: a new
    field is parseable without touching the parser (tuples are ``+``-separated lists)."""
    out: dict[str, Callable[[str], object]] = {}
    for f in fields(FaultPlan):
        kind = str(f.type)
        if kind.startswith("tuple"):
            out[f.name] = lambda v: tuple(x.strip() for x in v.split("+") if x.strip())
        elif kind == "float":
            out[f.name] = float
        elif kind == "int":
            out[f.name] = int
        else:
            out[f.name] = str
    return out


def parse_fault_spec(spec: str | None) -> FaultPlan:
    """``key=value`` pairs separated by commas; lists use ``+``.  Keys are the fields of
    :class:`FaultPlan` (``-`` may stand for ``_``)."""
    if not spec or not spec.strip():
        return FaultPlan()
    convert = _converters()
    values: dict[str, object] = {}
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        key, sep, value = part.partition("=")
        key = key.strip().replace("-", "_")
        if not sep:
            raise ConfigError(f"bad mock fault spec item {part!r}: expected key=value")
        if key not in convert:
            raise ConfigError(f"unknown mock fault setting {key!r}; known: {', '.join(sorted(convert))}")
        try:
            values[key] = convert[key](value.strip())
        except ValueError:
            raise ConfigError(f"bad value for mock fault setting {key!r}: {value!r}") from None
    return FaultPlan(**values)  # type: ignore[arg-type]


@dataclass
class FaultDecider:
    plan: FaultPlan
    _seen: Counter[str] = field(default_factory=Counter)
    _script: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def script(self, items: list[str]) -> None:
        bad = [i for i in items if i not in SCRIPT_ITEMS]
        if bad:
            raise ValueError(f"unknown scripted fault(s) {bad}; known: {', '.join(SCRIPT_ITEMS)}")
        with self._lock:
            self._script.extend(items)

    def pending_script(self) -> int:
        with self._lock:
            return len(self._script)

    def decide(self, endpoint: str, body: bytes) -> str | None:
        """The fault to inject for this request, or None."""
        if endpoint not in self.plan.endpoints:
            return None
        with self._lock:
            if self._script:
                item = self._script.pop(0)
                return None if item == "ok" else item
            if self.plan.rate <= 0 or not self.plan.kinds:
                return None
            digest = hashlib.sha256(body).hexdigest()
            n = self._seen[digest]
            self._seen[digest] += 1
        draw = _unit(f"{self.plan.seed}:{digest}:{n}")
        if draw >= self.plan.rate:
            return None
        pick = int(_unit(f"kind:{self.plan.seed}:{digest}:{n}") * len(self.plan.kinds))
        return self.plan.kinds[min(pick, len(self.plan.kinds) - 1)]


def _unit(key: str) -> float:
    """A deterministic number in [0, 1) from a string."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") / 2**64
