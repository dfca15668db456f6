"""``digest doctor``: the capability probe as a report, with the settings it recommends.

Exit status: 0 when the endpoint is usable (a chat request in some mode succeeded), 2 for
a settings problem (key rejected, unknown model, bad URL), 4 when the endpoint cannot be
reached or no chat request succeeded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import tomli_w

from ..errors import DigestError, LLMError
from .capabilities import MODE_LABELS, MODES, Capabilities
from .client import LLM, make_llm
from .presets import is_official_openai

if TYPE_CHECKING:
    from ..settings import LLMSettings, Settings


@dataclass
class DoctorReport:
    settings: LLMSettings
    caps: Capabilities | None = None
    error: DigestError | None = None
    cached: bool = False

    @property
    def usable(self) -> bool:
        caps = self.caps
        if caps is None:
            return False
        return bool(caps.tokens_per_second) or any(c.accepted for c in caps.modes.values())

    @property
    def exit_code(self) -> int:
        if self.error is not None:
            return self.error.exit_code
        return 0 if self.usable else LLMError.exit_code

    def recommended(self) -> dict[str, dict[str, Any]]:
        return recommend(self.caps, self.settings) if self.caps else {}

    def to_json(self) -> dict[str, Any]:
        return {
            "usable": self.usable and self.error is None,
            "error": str(self.error) if self.error else None,
            "cached": self.cached,
            "price_basis": self.settings.price_basis,
            "capabilities": self.caps.model_dump(mode="json") if self.caps else None,
            "recommended": self.recommended(),
        }

    def summary(self) -> str:
        if self.caps is None:
            return f"error: {self.error}"
        c = self.caps
        lines = [
            f"endpoint         {c.base_url} ({c.server or 'server not identified'})",
            f"models           {', '.join(c.models) or 'none listed'}",
            f"model            {c.model}" + ("" if not c.models or c.model in c.models else "  (not listed)"),
            f"prices           {self.settings.price_basis}",
            "structured output, best first:",
        ]
        for mode in MODES[:-1]:
            lines.append(f"  {MODE_LABELS[mode]:<22} {_verdict(c, mode)}")
        lines.append(f"  {'using':<22} {MODE_LABELS[c.structured_mode]}")
        role = {True: "kept", False: "IGNORED by the server: folded into the user message", None: "unknown"}
        lines.append(f"system messages  {role[c.system_role]} ({c.system_role_detail or 'not checked'})")
        window = f"{c.context_window} tokens ({c.context_source})" if c.context_window else "unknown"
        lines.append(f"context window   {window}")
        speeds = []
        if c.tokens_per_second:
            speeds.append(f"{c.tokens_per_second:g} tokens/s (plain text)")
        if c.structured_tokens_per_second:
            speeds.append(f"{c.structured_tokens_per_second:g} tokens/s ({MODE_LABELS[c.structured_mode]})")
        lines.append(f"speed            {', '.join(speeds) or 'not measured'}")
        if c.parallel:
            lines.append(f"parallel         {c.parallel} request(s) at a time")
        if c.token_ratio:
            lines.append(
                f"tokens           {c.token_ratio:g} of the server's per tiktoken token (seen on a request)"
            )
        when = f"{c.probe_requests} requests in {c.probe_seconds:g} s, {c.probed_at}"
        lines.append(
            f"probe            {when}" + ("  (cached: --refresh to probe again)" if self.cached else "")
        )
        lines.extend(f"note             {n}" for n in c.notes)
        if self.error is not None:
            lines.append(f"error            {self.error}")
        elif not self.usable:
            lines.append("error            no chat request succeeded: the endpoint is not usable")
        lines += ["", "recommended settings (digest.toml):", toml_snippet(self.recommended())]
        return "\n".join(lines)


def _verdict(c: Capabilities, mode: str) -> str:
    check = c.modes.get(mode)
    if check is None or check.accepted is None:
        return f"not checked{': ' + check.detail if check and check.detail else ''}"
    if not check.accepted:
        return f"no: {check.detail}"
    if check.valid and check.constrains:
        return "yes, valid and constrained by the schema"
    if check.valid:
        return "yes, valid JSON"
    return f"yes, but the reply was not usable: {check.detail}"


def recommend(caps: Capabilities, cfg: LLMSettings) -> dict[str, dict[str, Any]]:
    """Settings that suit the endpoint (what the LLM layer also applies by itself when they
    are not set), as TOML sections."""
    llm: dict[str, Any] = {}
    if cfg.provider == "openai" and not is_official_openai(cfg.provider, cfg.base_url):
        llm["base_url"] = caps.base_url
    llm["chat_model"] = caps.model
    llm["json_mode"] = caps.structured_mode
    if caps.system_role is False:
        llm["system_role"] = "fold"
    one_at_a_time = caps.parallel == 1
    llm["concurrency"] = caps.parallel or (2 if caps.local else 8)
    llm["max_retries"] = 1 if one_at_a_time else (2 if caps.local else 5)
    llm["timeout"] = 120.0 if caps.local else 60.0
    speed = caps.speed(structured=True)
    if caps.tokens_per_second or caps.structured_tokens_per_second:
        llm["tokens_per_second"] = round(speed, 2)
    translate: dict[str, Any] = {}
    budget = caps.batch_tokens(1200)
    if budget < 1200:
        translate = {"batch_tokens": budget, "max_section_tokens": min(600, budget)}
    return {"llm": llm, **({"translate": translate} if translate else {})}


def toml_snippet(sections: dict[str, dict[str, Any]]) -> str:
    return tomli_w.dumps(sections).strip()


def doctor(settings: Settings, *, refresh: bool = False, llm: LLM | None = None) -> DoctorReport:
    """Probe (or read the cached probe of) the configured endpoint."""
    report = DoctorReport(settings.llm)
    try:
        llm = llm or make_llm(settings)
        cached = (
            None
            if refresh
            else llm.endpoint.store.get(llm.base_url, llm.model, settings.llm.capabilities_max_age_days)
        )
        report.cached = cached is not None
        report.caps = cached or llm.capabilities(force_probe=True)
    except DigestError as exc:
        report.error = exc
    return report
