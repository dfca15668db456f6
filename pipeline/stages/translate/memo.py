"""Translate planning's memo: what planning derives from a section's text, by content hash, so
a re-run's planning work grows with what changed, not with the corpus.

Per section text (and model, section token limit): its source hash, its split into segments
with their token counts, the term pairs it writes (for the glossary), and each segment's
glossary matches and cache key.  Matches are valid for the glossary they were computed with:
the memo keeps that glossary, and when the glossary changes only sections containing an
added, removed or re-rendered term are matched again.  Journaled in
``OUT/cache/translate-plan.jsonl`` (appended; rewritten when most of it is stale).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ...llm.tokens import count_tokens
from ...store.journal import JsonlCache
from ...store.jsonl import content_hash, write_jsonl_atomic
from ...text.glossary import Glossary
from ...text.segments import split_text
from ...text.terms import mine_term_pairs

VERSION = "translate-plan/v1"
_GLOSSARY = "__glossary__"  # the record of the glossary the matches were computed with

Part = tuple[str, str, int, tuple[tuple[str, str], ...], str]  # chunk, joiner, tokens, matches, key


class PlanMemo:
    def __init__(self, path: Path | None, model: str, max_tokens: int) -> None:
        self.cache = JsonlCache(path) if path is not None else None
        self.model, self.max_tokens = model, max_tokens
        self.fresh: dict[str, dict[str, Any]] = {}
        self.used: set[str] = set()
        self.glossary: dict[str, str] | None = None
        self.version = self.previous = ""
        self.changed_terms: list[str] = []
        self._keys: dict[str, str] = {}  # section text -> its memo key (hashed once per run)

    def use_glossary(self, glossary: Glossary) -> None:
        """The glossary of this run: which terms changed since the memo's matches."""
        self.glossary = dict(glossary.entries)
        self.version = content_hash(sorted(self.glossary.items()))
        old = self.cache.get(_GLOSSARY) if self.cache is not None else None
        if isinstance(old, dict) and isinstance(old.get("entries"), dict):
            before: dict[str, str] = old["entries"]
            self.previous = str(old.get("version", ""))
            keys = before.keys() | self.glossary.keys()
            self.changed_terms = [k for k in keys if before.get(k) != self.glossary.get(k)]

    def _record(self, text: str) -> dict[str, Any]:
        key = self._keys.get(text)
        if key is None:
            raw = f"{VERSION}\x1f{self.model}\x1f{self.max_tokens}\x1f{text}"
            key = self._keys[text] = hashlib.sha256(raw.encode()).hexdigest()[:24]
            self.used.add(key)
        rec = self.fresh.get(key)
        if rec is None:
            stored = self.cache.get(key) if self.cache is not None else None
            rec = self.fresh[key] = dict(stored) if isinstance(stored, dict) else {}
            rec["_new"] = False
        return rec

    def source_hash(self, text: str) -> str:
        rec = self._record(text)
        if "h" not in rec:
            rec["h"], rec["_new"] = content_hash(text), True
        return str(rec["h"])

    def pairs(self, text: str) -> list[tuple[str, str]]:
        """``mine_term_pairs`` of the section."""
        rec = self._record(text)
        if "g" not in rec:
            rec["g"], rec["_new"] = [list(p) for p in mine_term_pairs(text)], True
        return [(ko, en) for ko, en in rec["g"]]

    def _parts(self, text: str, rec: dict[str, Any]) -> list[tuple[str, str, int]]:
        if "p" not in rec:
            chunks = split_text(text, self.max_tokens, lambda t: count_tokens(t, self.model))
            tokens = [count_tokens(c, self.model) for c, _ in chunks]
            rec["p"] = [[None if c == text else c, j, n] for (c, j), n in zip(chunks, tokens, strict=True)]
            rec["_new"] = True
            rec.pop("m", None)
        return [(text if c is None else c, j, n) for c, j, n in rec["p"]]

    def segments(
        self,
        text: str,
        glossary: Glossary,
        prompt_sha: str,
        temperature: float,
        key: Callable[[str, tuple[tuple[str, str], ...]], str],
    ) -> list[Part]:
        """The section's segments: chunk, joiner, tokens, glossary matches and cache key
        (``key(chunk, matches)``, for this prompt and temperature)."""
        rec = self._record(text)
        parts = self._parts(text, rec)
        matches = rec.get("m")
        valid = (
            isinstance(matches, list)
            and len(matches) == len(parts)
            and (
                rec.get("gv") == self.version
                or (rec.get("gv") == self.previous and not any(t in text for t in self.changed_terms))
            )
        )
        if not valid:
            matches = [[list(m) for m in glossary.matches(chunk)] for chunk, _, _ in parts]
        assert isinstance(matches, list)
        found = [tuple((ko, en) for ko, en in m) for m in matches]
        keys = rec.get("k")
        if not valid or rec.get("kv") != [prompt_sha, temperature] or not isinstance(keys, list):
            keys = [key(chunk, gl) for (chunk, _, _), gl in zip(parts, found, strict=True)]
            rec.update(m=matches, k=keys, kv=[prompt_sha, temperature], _new=True)
        if rec.get("gv") != self.version:
            rec.update(gv=self.version, _new=True)
        return [(c, j, n, gl, k) for (c, j, n), gl, k in zip(parts, found, keys, strict=True)]

    def save(self) -> None:
        """Journal what this run computed; rewrite the file when most of it is stale."""
        if self.cache is None:
            return
        new = {k: {f: v for f, v in r.items() if f != "_new"} for k, r in self.fresh.items() if r["_new"]}
        if self.glossary is not None and self.version != self.previous:
            new[_GLOSSARY] = {"version": self.version, "entries": self.glossary}
        if len(new) * 2 > len(self.used) or len(self.cache) > 2 * len(self.used) + 1000:
            live = {k: self.cache.get(k) for k in self.used if k in self.cache}
            live.update(new)
            if _GLOSSARY not in live and self.cache.get(_GLOSSARY) is not None:
                live[_GLOSSARY] = self.cache.get(_GLOSSARY)
            write_jsonl_atomic(self.cache.path, [{"key": k, "value": v} for k, v in live.items()])
        else:
            self.cache.put_many(new)
