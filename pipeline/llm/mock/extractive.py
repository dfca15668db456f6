"""The mock's extractive reading of an English paper summary (the enrich request carries the
translated sections): every field it fills is a piece of the text itself, chosen by plain
rules, so the demo's metadata is plausible, grounded and stable.  Nothing is invented.

- TL;DR: the first sentence of "What's New" (or of the first section), cut to at most
  about 30 words at a clause boundary;
- key results: (metric, value, context) from ONE sentence: a number with its unit (%, x,
  times, -fold, points, B/M parameters) and the metric words next to it;
- methods, datasets, benchmarks, metrics, tasks, model sizes, keywords: names and phrases
  written in the text, found by their shape (capitals, digits, hyphens) and by the words
  around them ("the X dataset", "on X", "X benchmark").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ...text.hangul import has_hangul
from .results import (
    METRIC_WORDS,
    NAME,
    NAME_RE,
    NOT_NAMES,
    STOP,
    VALUE,
    VERBS,
    clause,
    in_name,
    metric_near,
    name_like,
    strong_name,
)

_SECTION = re.compile(r"^- (?:(?P<label>[A-Z][A-Za-z' ]{1,40}): )?(?P<text>.+)$")
_ABBREV = re.compile(r"\b(?:e\.g|i\.e|et al|vs|approx|cf|Fig|Eq|No)\.$")
MAX_TLDR_WORDS = 30
_CLAUSE_BREAK = re.compile(r",\s|;\s|:\s|\s[-–—]\s|\s(?=(?:which|while|whereas|and thus|thereby)\s)")
_AND_BREAK = re.compile(r"\s(?=and\s)")
_SUBORDINATE = re.compile(r"(?:whereas|while|although|though|because|since|if|when|unlike)\b", re.I)
_ARTICLE = re.compile(r"(?:the|a|an)\s", re.I)
_DANGLING_WORDS = frozenset(
    "a an the of to in on for by at from with through via into as and or but that its their".split()  # noqa: SIM905
)

_SIZE = re.compile(r"(?<![\w.-])(\d+(?:\.\d+)?\s?[BM])(?:-| )?(?=parameter|param|\b)")
_TASK_HEADS = (
    "generation",
    "classification",
    "question answering",
    "segmentation",
    "retrieval",
    "reasoning",
    "editing",
    "translation",
    "recognition",
    "detection",
    "synthesis",
    "estimation",
    "understanding",
    "summarization",
    "reconstruction",
    "captioning",
    "tracking",
    "forecasting",
    "planning",
)
# model families and generic acronyms: no method of a paper's own
GENERIC_NAMES = frozenset(
    """
llm llms mllm mllms vlm vlms lmm lmms ai lm lms nlp gpu gpus cpu api apis sota
""".split()  # noqa: SIM905
)


def sentences(text: str) -> list[str]:
    """Sentences of English text (abbreviations and decimals do not end one)."""
    out: list[str] = []
    buf = ""
    for piece in re.split(r"(?<=[.!?])\s+(?=[A-Za-z0-9\"'(])", " ".join((text or "").split())):
        buf = f"{buf} {piece}".strip() if buf else piece
        if not _ABBREV.search(buf):
            out.append(buf)
            buf = ""
    if buf:
        out.append(buf)
    return [s for s in out if s]


def _open_at(sentence: str, pos: int) -> bool:
    """Whether ``pos`` is inside parentheses or brackets."""
    head = sentence[:pos]
    return head.count("(") > head.count(")") or head.count("[") > head.count("]")


def _cut_at(sentence: str, breaks: re.Pattern[str], limit: int) -> int | None:
    """The last break of ``breaks`` keeping 8..``limit`` words that ends a clause: not inside
    parentheses, not leaving a dependent clause ("whereas existing solutions ...") or an
    apposition ("Layout generation, the key to ...") dangling at the end, not between words
    of one phrase ("in complex, long videos")."""
    found = list(breaks.finditer(sentence))
    ends = [m.start() for m in found[1:]] + [len(sentence)] if found else []
    best = None
    start, prev_start = 0, 0
    for m, nxt in zip(found, ends, strict=True):
        n = len(sentence[: m.start()].split())
        clause = sentence[start : m.start()].strip()
        dangling = bool(_SUBORDINATE.match(clause))
        apposition = start > 0 and _ARTICLE.match(clause) and len(sentence[:prev_start].split()) <= 4
        phrase = len(sentence[m.end() : nxt].split()) < 3
        if 8 <= n <= limit and not (dangling or apposition or phrase or _open_at(sentence, m.start())):
            best = m.start()
        prev_start, start = start, m.end()
    return best


def shorten(sentence: str, limit: int = MAX_TLDR_WORDS) -> str:
    """``sentence`` cut to at most ``limit`` words at the last clause boundary that keeps
    at least 8 words (else before the last "and", else at ``limit`` words without a
    trailing article, preposition or conjunction); it ends with a full stop."""
    sentence = sentence.strip()
    words = sentence.split()
    if len(words) <= limit:
        return sentence if sentence.endswith((".", "!", "?")) else sentence + "."
    best = _cut_at(sentence, _CLAUSE_BREAK, limit)
    if best is None:
        best = _cut_at(sentence, _AND_BREAK, limit)
    if best is not None:
        cut = sentence[:best]
    else:
        kept = words[:limit]
        while len(kept) > 8 and kept[-1].lower().strip(",;:") in _DANGLING_WORDS:
            kept.pop()
        cut = " ".join(kept)
    return cut.rstrip(" ,;:-–—") + "."


@dataclass
class EnglishPaper:
    """An English paper summary as the enrich request shows it: title and labelled sections."""

    title: str
    sections: list[tuple[str | None, str]] = field(default_factory=list)

    @classmethod
    def parse(cls, paper: str) -> EnglishPaper | None:
        """The paper of an enrich request, or None when a section is still Korean."""
        title = ""
        sections: list[tuple[str | None, str]] = []
        for line in (paper or "").splitlines():
            line = line.strip()
            if line.startswith("Title:"):
                title = line[len("Title:") :].strip()
                continue
            m = _SECTION.match(line)
            if m:
                sections.append((m.group("label"), m.group("text").strip()))
        if not sections or any(has_hangul(t) for _, t in sections):
            return None
        return cls(title, sections)

    @property
    def text(self) -> str:
        return " ".join(t for _, t in self.sections)

    @property
    def name(self) -> str:
        """The paper's own name: the title before its colon when that is a short name."""
        head = self.title.split(":", 1)[0].strip()
        return head if ":" in self.title and len(head.split()) <= 4 else ""

    def tldr(self) -> str:
        new = [t for label, t in self.sections if label and label.lower().startswith("what")]
        first = sentences(new[0] if new else self.sections[0][1])
        return shorten(first[0]) if first else shorten(self.title)

    def key_results(self, limit: int = 3) -> list[dict[str, str]]:
        """(metric, value, context) triples, each from one sentence; results first."""
        ordered = sorted(self.sections, key=lambda s: 0 if (s[0] or "").lower().startswith("perf") else 1)
        out: list[dict[str, str]] = []
        seen: set[str] = set()
        for _, text in ordered:
            for sent in sentences(text):
                for m in VALUE.finditer(sent):
                    value = m.group("value").strip()
                    if value in seen or in_name(sent, m.start()):
                        continue
                    metric = metric_near(sent, m.start(), m.end())
                    if not metric:
                        continue
                    seen.add(value)
                    out.append(
                        {"metric": metric, "value": value, "context": clause(sent, m.start(), m.end())}
                    )
                    if len(out) >= limit:
                        return out
        return out

    def model_sizes(self) -> list[str]:
        return _unique(m.group(1).replace(" ", "") for m in _SIZE.finditer(self.text))

    def names(self) -> list[str]:
        """Names written in the text, in order: "LoLDU", "LongWriter-6K", "MedQA"; a plain
        capitalised word that opens a sentence ("Synthetic data ...") is no name."""
        out = []
        for sent in (s for _, t in self.sections for s in sentences(t)):
            for m in NAME_RE.finditer(sent):
                words = m.group(0).split()
                while words and words[0] in NOT_NAMES:
                    words = words[1:]
                name = " ".join(words)
                if not name or name in NOT_NAMES or not name_like(name):
                    continue
                if m.start() == 0 and len(words) == 1 and not strong_name(name):
                    continue
                out.append(name)
        return _unique(out)

    def datasets(self) -> list[str]:
        pat = re.compile(rf"(?:the\s)?({NAME})\s(?:dataset|corpus|data set)\b")
        return _unique(m.group(1) for m in pat.finditer(self.text) if name_like(m.group(1)))

    def benchmarks(self) -> list[str]:
        text = self.text
        found = [m.group(1) for m in re.finditer(rf"({NAME})\s(?:\w+\s)?benchmarks?\b", text)]
        found += [
            m.group(1) for m in re.finditer(rf"[\d.]+\s?%\s(?:\w+\s){{0,2}}on\s(?:the\s)?({NAME})", text)
        ]
        for m in re.finditer(rf"((?:{NAME},\s)+(?:and\s)?{NAME})\s(?:were|are)\sused\sas\sbenchmarks", text):
            found += re.split(r",\s(?:and\s)?|\sand\s", m.group(1))
        return _unique(n for n in found if name_like(n) and n not in self.datasets())

    def metrics(self) -> list[str]:
        low = self.text.lower()
        found = [w for w in METRIC_WORDS if re.search(rf"(?<![\w-]){re.escape(w)}(?![\w-])", low)]
        found = [w for w in found if not any(w != o and w in o for o in found)]
        named = [
            m.group(1)
            for m in re.finditer(r"((?:[A-Z][\w-]*\s){1,3}Score(?:\s(?:Rate|Ratio))?)\b", self.text)
        ]
        return _unique([*named, *found])

    def tasks(self) -> list[str]:
        """Noun phrases ending in a task word ("video generation", "question answering"),
        whose words before the head read as nouns (no verbs, adverbs, adjectives)."""
        heads = "|".join(re.escape(h) for h in _TASK_HEADS)
        pat = re.compile(rf"\b((?:[a-z][a-z0-9-]+\s){{1,2}})({heads})\b")
        out = []
        for m in pat.finditer(self.text.lower()):
            words = m.group(1).split()
            while words and not _noun_like(words[0]):
                words = words[1:]
            if words and all(_noun_like(w) for w in words):
                out.append(" ".join([*words, m.group(2)]))
        return _unique(out)

    def methods(self) -> list[str]:
        taken = {n.lower() for n in [*self.datasets(), *self.benchmarks(), *self.metrics(), *GENERIC_NAMES]}
        own = [self.name] if self.name else []
        acronyms = [
            m.group(1)
            for m in re.finditer(r"((?:[A-Z][\w-]*\s){1,4}[A-Z][\w-]*)\s\([A-Z][A-Za-z]+\)", self.text)
        ]
        names = [
            n
            for n in self.names()
            if n.lower() not in taken
            and not any(n.lower() in t for t in taken)
            and not re.fullmatch(r"[\d.]+[BMK]?", n)
        ]
        acronyms = [a for a in acronyms if a.lower() not in taken]
        return _unique([*own, *acronyms, *names])

    def keywords(self) -> list[str]:
        return _unique(
            [*self.methods()[:3], *self.tasks()[:3], *self.datasets()[:1], *self.benchmarks()[:1]]
        )[:8]


def _unique(items) -> list[str]:  # type: ignore[no-untyped-def]
    out: list[str] = []
    seen: set[str] = set()
    for it in items:
        it = " ".join(str(it).split()).strip(" ,.;:")
        if it and it.casefold() not in seen:
            seen.add(it.casefold())
            out.append(it)
    return out


_NOT_NOUN_ENDINGS = ("ly", "ed", "ive", "ous", "ful", "ble", "ent", "ant", "al", "ic", "ing", "est", "er")


def _noun_like(word: str) -> bool:
    """A word that may stand before a task noun: not a function word, verb or adjective."""
    w = word.lower()
    return (
        w not in STOP
        and w not in VERBS
        and (w.endswith(("ing",)) is False)
        and ("-" in w or not w.endswith(_NOT_NOUN_ENDINGS) or w in ("text", "speech", "visual", "image"))
    )
