"""Fill any JSON schema from a paper's text, deterministically (the mock's metadata task).

Enums get the value whose words (or their synonyms) occur most in the paper.  When the
paper is in English (the enrich request carries the translated sections), the fields are
extractive (``extractive.py``): the TL;DR is the first sentence of "What's New", key
results are (metric, value, context) found in one sentence, the name lists are names and
phrases of the text.  Without English (Korean only), string arrays get Latin-script terms
of the paper, ``value`` fields get its numbers, and a summary is one sentence naming the
title and its terms.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from typing import Any

from ...text.escape import unescape_data
from .extractive import EnglishPaper
from .lexicon import mock_translate
from .text import latin_terms, numbers, salient_terms

# enum words -> extra cues (English and Korean) that count as evidence for them
_SYNONYMS: dict[str, tuple[str, ...]] = {
    "vision": ("image", "visual", "video", "pixel", "이미지", "비전", "시각", "비디오", "영상"),
    "cv": ("image", "visual", "video", "이미지", "비전"),
    "image": ("이미지", "diffusion", "pixel"),
    "video": ("비디오", "영상", "frame"),
    "language": ("llm", "text", "token", "언어", "텍스트", "nlp"),
    "nlp": ("llm", "language", "text", "언어", "텍스트"),
    "multimodal": ("multimodal", "vision-language", "vlm", "mllm", "멀티모달", "다중 모달"),
    "agent": ("agent", "agents", "tool", "에이전트"),
    "agents": ("agent", "tool", "에이전트"),
    "reinforcement": ("rl", "reward", "policy", "강화", "보상"),
    "rl": ("reward", "policy", "reinforcement", "강화", "보상"),
    "speech": ("speech", "audio", "asr", "tts", "음성", "오디오"),
    "audio": ("speech", "sound", "music", "음성", "오디오"),
    "robotics": ("robot", "manipulation", "embodied", "로봇"),
    "generation": ("diffusion", "generative", "synthesis", "생성", "합성"),
    "generative": ("diffusion", "generation", "생성"),
    "efficiency": ("efficient", "quantization", "pruning", "compression", "latency", "효율", "경량"),
    "efficient": ("quantization", "pruning", "lora", "peft", "효율"),
    "evaluation": ("benchmark", "evaluate", "leaderboard", "벤치마크", "평가"),
    "benchmark": ("benchmark", "evaluation", "벤치마크", "평가"),
    "safety": ("safety", "alignment", "jailbreak", "harmful", "안전", "정렬"),
    "alignment": ("rlhf", "dpo", "preference", "정렬", "선호"),
    "data": ("dataset", "corpus", "데이터", "데이터셋"),
    "dataset": ("corpus", "데이터셋"),
    "code": ("code", "programming", "software", "코드"),
    "math": ("math", "mathematical", "theorem", "수학"),
    "reasoning": ("reasoning", "chain-of-thought", "cot", "추론"),
    "retrieval": ("retrieval", "rag", "search", "검색"),
    "medical": ("medical", "clinical", "health", "의료"),
    "3d": ("3d", "mesh", "nerf", "gaussian", "3차원"),
    "theory": ("theorem", "proof", "theoretical", "이론"),
}
_SUMMARY_NAMES = ("tldr", "summary", "abstract", "description", "overview", "one_liner", "gist")


def _h(key: str) -> int:
    return int(hashlib.sha256(key.encode()).hexdigest()[:8], 16)


_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_URL = re.compile(r"https?://\S+")
_NOISE_LINE = re.compile(r"(?im)^\s*(authors?|vote|votes|url|arxiv|date)\s*[:：].*$")
_LABEL = re.compile(r"\*{1,3}[^*\n]{1,40}\*{1,3}\s*:?")


def clean_paper(text: str) -> str:
    """The paper text without links, author/vote lines and section labels."""
    text = _LINK.sub(lambda m: m.group(1), text)
    text = _URL.sub(" ", text)
    text = _NOISE_LINE.sub(" ", text)
    return _LABEL.sub(" ", text)


def paper_title(text: str) -> str:
    text = _LINK.sub(lambda m: m.group(1), text)
    m = re.search(r"(?im)^\s*(?:#+\s*)?title\s*[:：]\s*(.+)$", text)
    if m:
        return m.group(1).strip()
    m = re.search(r"(?m)^\s*#+\s*\[?([^\]\n]+)", text)
    if m:
        return m.group(1).strip()
    first = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    return first[:120]


class SchemaFiller:
    def __init__(self, paper: str, root: dict[str, Any]) -> None:
        self.raw = paper
        paper = clean_paper(paper)
        self.paper = paper
        self.lower = paper.lower()
        self.defs = {**root.get("$defs", {}), **root.get("definitions", {})}
        # field labels such as "Title:" or "What's New:" are layout, not content
        content = re.sub(r"(?m)^[ \t-]*[A-Z][A-Za-z' ]{0,30}:[ \t]", "", paper)
        self.terms = latin_terms(content)
        self.salient = salient_terms(content) or self.terms
        self.numbers = numbers(paper)
        title = paper_title(self.raw)
        self.title = mock_translate(title).strip() or (self.salient[0] if self.salient else "this work")
        self.english = EnglishPaper.parse(unescape_data(self.raw))

    # -- public -----------------------------------------------------------------------

    def fill(self, schema: dict[str, Any], name: str = "", index: int = 0, in_array: bool = False) -> Any:
        schema = self._deref(schema)
        if "const" in schema:
            return schema["const"]
        if "enum" in schema:
            return self._enum(schema["enum"], name)
        for key in ("anyOf", "oneOf"):
            if key in schema:
                options = [self._deref(o) for o in schema[key]]
                non_null = [o for o in options if o.get("type") != "null"]
                return self.fill(non_null[0], name, index, in_array) if non_null else None
        if "allOf" in schema and schema["allOf"]:
            return self.fill(schema["allOf"][0], name, index, in_array)
        typ = schema.get("type", "object" if "properties" in schema else "string")
        if isinstance(typ, list):
            typ = next((t for t in typ if t != "null"), "null")
        if typ == "object":
            props = schema.get("properties", {})
            return {k: self.fill(v, k, index, in_array) for k, v in props.items()}
        if typ == "array":
            return self._array(schema, name)
        if typ in ("number", "integer"):
            return self._number(name, index, typ)
        if typ == "boolean":
            words = [
                w for w in re.split(r"[_\W]+", name.lower()) if len(w) > 2 and w not in ("has", "is", "uses")
            ]
            return any(w in self.lower for w in words)
        if typ == "null":
            return None
        return self._string(name, index, in_array)

    # -- pieces -----------------------------------------------------------------------

    def _deref(self, schema: dict[str, Any]) -> dict[str, Any]:
        seen = 0
        while isinstance(schema, dict) and "$ref" in schema and seen < 20:
            schema = self.defs.get(schema["$ref"].rsplit("/", 1)[-1], {})
            seen += 1
        return schema if isinstance(schema, dict) else {}

    def _enum(self, values: list[Any], name: str) -> Any:
        best, best_score = None, 0
        for v in values:
            if not isinstance(v, str):
                continue
            words = [w for w in re.split(r"[\s_\-/&]+", v.lower()) if w]
            cues: list[str] = []
            for w in words:
                cues.append(w)
                cues.extend(_SYNONYMS.get(w, ()))
            score = sum(self._count(c) for c in cues if len(c) >= 2)
            if score > best_score:
                best, best_score = v, score
        if best is not None:
            return best
        for fallback in ("other", "others", "misc", "unknown", "none"):
            for v in values:
                if isinstance(v, str) and v.lower() == fallback:
                    return v
        return values[_h(name + self.title) % len(values)] if values else None

    def _count(self, cue: str) -> int:
        if re.fullmatch(r"[a-z0-9\-]+", cue):
            return len(re.findall(rf"(?<![a-z0-9]){re.escape(cue)}(?![a-z0-9])", self.lower))
        return self.lower.count(cue)

    def _array(self, schema: dict[str, Any], name: str) -> list[Any]:
        items = self._deref(schema.get("items", {}))
        lo = schema.get("minItems", 0)
        hi = schema.get("maxItems", 5)
        item_type = items.get("type", "object" if "properties" in items else "string")
        extracted = self._extractive_array(items, name, item_type)
        if extracted is not None:
            return extracted[: max(lo, hi)]
        if item_type == "object" or "properties" in items or "anyOf" in items:
            count = max(lo, min(hi, 2, max(1, len(self.numbers))))
            props = items.get("properties", {})
            if not self.numbers and any(k == "value" or k.endswith("_value") for k in props):
                count = lo  # a paper without numbers has no numeric results to report
            return [self.fill(items, name, i, in_array=True) for i in range(count)]
        if "enum" in items:
            return [self._enum(items["enum"], name)]
        if item_type in ("number", "integer"):
            return [self._number(name, i, item_type) for i in range(min(hi, 2))]
        picks = self._terms_for(name)
        return picks[: max(lo, min(hi, 5))]

    def _extractive_array(self, items: dict[str, Any], name: str, item_type: str) -> list[Any] | None:
        """The list a field of this name holds, read from the English text (None: no rule)."""
        en = self.english
        if en is None:
            return None
        n = name.lower()
        props = items.get("properties", {})
        if item_type == "object" and {"metric", "value"} <= set(props):
            return [{k: kr.get(k, "") for k in props} for kr in en.key_results()]
        if item_type != "string":
            return None
        for key, values in (
            ("size", en.model_sizes),
            ("param", en.model_sizes),
            ("task", en.tasks),
            ("method", en.methods),
            ("dataset", en.datasets),
            ("benchmark", en.benchmarks),
            ("metric", en.metrics),
            ("keyword", en.keywords),
        ):
            if key in n:
                return values()
        return None

    def _terms_for(self, name: str) -> list[str]:
        n = name.lower()
        if "size" in n or "param" in n:
            return [x for x in self.numbers if re.search(r"\d[BM]$", x)] or []
        if "url" in n or "link" in n:
            return re.findall(r"https?://[^\s)>\]\"']+", self.raw)
        pool = self.salient if self.salient else self.terms
        if not pool:
            return []
        start = _h(n) % len(pool)
        rotated = pool[start:] + pool[:start]
        return rotated

    def _number(self, name: str, index: int, typ: str) -> float | int:
        vals = []
        for raw in self.numbers:
            m = re.match(r"[-+]?\d[\d,]*(?:\.\d+)?", raw)
            if m:
                with contextlib.suppress(ValueError):
                    vals.append(float(m.group(0).replace(",", "")))
        if not vals:
            return 0
        v = vals[index % len(vals)]
        return int(v) if typ == "integer" else v

    def _string(self, name: str, index: int, in_array: bool) -> str:
        n = name.lower()
        if any(s in n for s in _SUMMARY_NAMES):
            if self.english is not None:
                return self.english.tldr()
            lead = ", ".join(self.salient[:2]) if self.salient else "its method"
            return f"{self.title} is presented, with results reported for {lead}."
        if "title" in n:
            return self.title
        if n == "value" or n.endswith("_value") or n in ("score", "number", "amount"):
            return self.numbers[index % len(self.numbers)] if self.numbers else "0"
        if "context" in n or "evidence" in n or "quote" in n:
            if self.numbers:
                return self._context_of(self.numbers[index % len(self.numbers)])
            return self.title
        if "language" in n or n == "lang":
            return "en"
        pool = self._terms_for(n)
        return pool[index % len(pool)] if pool else self.title

    def _context_of(self, number: str) -> str:
        pos = self.paper.find(number)
        if pos < 0:
            return number
        snippet = self.paper[max(0, pos - 60) : pos + len(number) + 60]
        return " ".join(mock_translate(snippet).split())
