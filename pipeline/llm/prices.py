"""Token prices: which per-million prices a cost estimate uses, and why (the "basis" that
``--dry-run`` prints).

Set prices (``llm.price_*_per_million``) always win.  Otherwise a local endpoint (a server
on this machine, or a local preset) costs $0; an OpenAI model costs its list price; any
other model is estimated at gpt-4o-mini's rates, and the basis says so.
"""

from __future__ import annotations

from dataclasses import dataclass

# USD per 1M tokens (input, output), standard tier; a dated snapshot (gpt-4o-2024-08-06)
# takes the price of its longest matching name
OPENAI_PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "o3": (2.00, 8.00),
    "o3-mini": (1.10, 4.40),
    "o4-mini": (1.10, 4.40),
    "gpt-5": (1.25, 10.00),
    "gpt-5-mini": (0.25, 2.00),
    "gpt-5-nano": (0.05, 0.40),
}
FALLBACK_MODEL = "gpt-4o-mini"


@dataclass(frozen=True)
class Prices:
    input_per_million: float
    output_per_million: float
    basis: str  # how they were chosen, for humans


def known_price(model: str) -> tuple[float, float] | None:
    name = model.lower().split("/")[-1]
    best = max((k for k in OPENAI_PRICES if name == k or name.startswith(k + "-")), key=len, default=None)
    return OPENAI_PRICES[best] if best else None


def _rates(model: str, pin: float, pout: float) -> str:
    return f"{model} at ${pin:g} in / ${pout:g} out per 1M tokens"


def resolve_prices(model: str, *, local: bool, explicit: tuple[float | None, float | None]) -> Prices:
    """The prices to estimate with.  ``explicit``: the prices set by the user (None: not set)."""
    pin, pout = explicit
    if pin is not None or pout is not None:
        fallback = (0.0, 0.0) if local else OPENAI_PRICES[FALLBACK_MODEL]
        known = known_price(model) or fallback
        pin = known[0] if pin is None else pin
        pout = known[1] if pout is None else pout
        return Prices(pin, pout, _rates(model, pin, pout) + " (llm.price_*_per_million)")
    if local:
        return Prices(0.0, 0.0, "local endpoint: $0 (set llm.price_*_per_million to price it)")
    known = known_price(model)
    if known:
        return Prices(*known, _rates(model, *known) + " (list price)")
    pin, pout = OPENAI_PRICES[FALLBACK_MODEL]
    return Prices(
        pin,
        pout,
        f"{model}: price unknown, estimated at {FALLBACK_MODEL}'s ${pin:g} in / ${pout:g} out "
        "per 1M tokens (set llm.price_*_per_million)",
    )
