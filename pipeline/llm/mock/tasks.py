"""The mock's task handlers: the prompt protocols the stages speak (see the module docs
of each handler).  Every reply is a pure function of the request."""

from __future__ import annotations

import hashlib
import json
import math
import re
from typing import Any

from ...text.english import content_roots, root
from ...text.escape import unescape_data
from ...text.hangul import SYLLABLES, has_hangul
from .extractive import sentences as english_sentences
from .lexicon import mock_translate, parse_glossary
from .query import QUERY
from .schema import SchemaFiller
from .text import STOPWORDS, content_terms, latin_terms, sentences

DEFAULT_REFUSAL = "I cannot answer this question from the digests."
EMBED_DIMS = 384

_SEGMENT = re.compile(r'<segment\s+id="([^"]*)"[^>]*>(.*?)</segment>', re.S)
_GLOSSARY = re.compile(r"<glossary>(.*?)</glossary>", re.S)
_PAPER = re.compile(r'<paper\s+id="([^"]*)"[^>]*>(.*?)</paper>', re.S)
_SOURCE = re.compile(r'<source\s+[^>]*?id="([^"]*)"[^>]*>(.*?)</source>', re.S)
_QUESTION = re.compile(r"<question>(.*?)</question>", re.S)
_REFUSAL = re.compile(r"<refusal>(.*?)</refusal>", re.S)
_SCHEMA_TAG = re.compile(r"<json_schema>(.*?)</json_schema>", re.S)
_INJECTION = re.compile(
    r"(ignore|disregard|forget)\b.{0,40}\b(instruction|prompt|above|previous)|system prompt|you must|"
    r"respond with|reply with|print |무시|지시",
    re.I | re.S,
)


def text_of(message: dict) -> str:
    content = message.get("content")
    if isinstance(content, list):
        return "\n".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return str(content or "")


def detect_task(messages: list[dict]) -> tuple[str, str]:
    """(task, user text): translate, metadata, qa, query, or text."""
    users = [text_of(m) for m in messages if m.get("role") == "user"]
    for text in users:  # the first user turn carries the data; later ones are re-asks
        if _SEGMENT.search(text):
            return "translate", text
        if _PAPER.search(text):
            return "metadata", text
        if _QUESTION.search(text):
            return "qa", text
        if QUERY.search(text):
            return "query", text
    return "text", "\n".join(users)


def system_text(messages: list[dict]) -> str:
    return "\n".join(text_of(m) for m in messages if m.get("role") in ("system", "developer"))


# -- 1. translation -----------------------------------------------------------------------


def translate_reply(user: str, *, korean: bool = False) -> str:
    """``{"translations":[{"id","text"}]}`` for every ``<segment>``, in order."""
    gm = _GLOSSARY.search(user)
    glossary = parse_glossary(gm.group(1)) if gm else []
    items = []
    for seg_id, body in _SEGMENT.findall(user):
        src = body.strip()
        items.append({"id": seg_id, "text": src if korean else mock_translate(src, glossary)})
    return json.dumps({"translations": items}, ensure_ascii=False)


# -- 2. metadata ----------------------------------------------------------------------------


def find_schema(response_format: dict | None, system: str) -> dict[str, Any] | None:
    if response_format and response_format.get("type") == "json_schema":
        return (response_format.get("json_schema") or {}).get("schema")
    m = _SCHEMA_TAG.search(system)
    candidates = [m.group(1)] if m else []
    decoder = json.JSONDecoder()
    for text in [*candidates, system]:
        for i, ch in enumerate(text):
            if ch != "{":
                continue
            try:
                obj, _ = decoder.raw_decode(text[i:])
            except json.JSONDecodeError:
                continue
            if isinstance(obj, dict) and ("properties" in obj or "type" in obj):
                return obj
    return None


def metadata_reply(user: str, schema: dict[str, Any] | None) -> str:
    m = _PAPER.search(user)
    paper = m.group(2) if m else user
    if not schema:
        schema = {
            "type": "object",
            "properties": {
                "tldr": {"type": "string"},
                "keywords": {"type": "array", "items": {"type": "string"}},
            },
        }
    return json.dumps(SchemaFiller(paper, schema).fill(schema), ensure_ascii=False)


# -- 3. question answering ------------------------------------------------------------------


def qa_reply(user: str, system: str, earlier: str = "") -> str:
    """Extractive: the sentence(s) of the sources that best answer the question (overlap of
    stemmed words and numbers, names weighing double), each followed by its ``[ID]``
    citation and naming its paper; the refusal phrase when nothing overlaps.  ``earlier``:
    the conversation's earlier turns; a follow-up borrows their terms ("it" = the subject)."""
    rm = _REFUSAL.search(system) or _REFUSAL.search(user)
    refusal = rm.group(1).strip() if rm else DEFAULT_REFUSAL
    qm = _QUESTION.search(user)
    question = unescape_data(qm.group(1).strip()) if qm else ""
    weights = question_weights(question)
    for t in question_weights(earlier):
        weights.setdefault(t, 1)
    needed = max(1, min(2, sum(weights.values())))  # a one-word question needs its word
    korean = has_hangul(question)
    scored = []
    for order, (sid, body) in enumerate(_SOURCE.findall(user)):
        title, text = _source_parts(unescape_data(body), korean)
        best, score = _best_sentence(text, weights)
        title_score = _score(title, weights)
        if best is not None and score + title_score >= needed:
            scored.append((-(score + title_score), order, sid, title, best))
    if not scored:
        return refusal
    scored.sort()
    top = -scored[0][0]
    picked = []
    for neg, _, sid, title, best in scored[:3]:
        if -neg * 4 < top * 3:  # much weaker than the best source: not part of the answer
            break
        picked.append(f"{_naming(title, best)} [{sid}]")
    answer = " ".join(picked)
    if korean:
        answer = "자료에 따르면 다음과 같습니다. " + answer
    return answer


_STOP_ROOTS = frozenset(STOPWORDS | {root(w) for w in STOPWORDS})


def question_weights(question: str) -> dict[str, int]:
    """The question's words (stemmed) and numbers; numbers, names and Korean words weigh 2."""
    weights = {t: 1 for t in content_roots(question) if t not in _STOP_ROOTS}
    for t in content_terms(question):
        if any(c.isdigit() for c in t) or not t.isascii():
            weights[t] = 2
    for t in latin_terms(question):  # names (LoRA, LLaMA2-7B) weigh more
        if any(c.isupper() for c in t[1:]) or any(c.isdigit() for c in t):
            for tok in content_roots(t) or [t.lower()]:
                weights[tok] = 2
    return weights


def _score(text: str, weights: dict[str, int]) -> int:
    terms = set(content_roots(text)) | content_terms(text)
    return sum(w for t, w in weights.items() if t in terms)


_SECTION_LABEL = re.compile(r"(?m)^[ \t]*(?:- )?[A-Z][A-Za-z' ]{1,40}:[ \t]")


def _source_parts(body: str, korean: bool) -> tuple[str, str]:
    """(title, the text to answer from): the English, or the Korean original when the
    question is Korean or the source has no English."""
    head, _, rest = body.strip().partition("\n")
    m = re.match(r"Paper:\s*(.*?)(?:\s\(\d{4}-\d{2}-\d{2}\))?\.?$", head.strip())
    title = m.group(1).strip() if m else ""
    english, _, original = rest.partition("Korean original.")
    if not m:
        english = body
    text = original if (korean and original.strip()) or not english.strip() else english
    return title, _SECTION_LABEL.sub("", text)


def _naming(title: str, sentence: str) -> str:
    """The sentence, led by the paper's short title when it does not name the paper."""
    short = title.split(":", 1)[0].strip()
    if not short or short.casefold() in sentence.casefold():
        return sentence.rstrip()
    return f"{short}: {sentence.rstrip()}"


def _best_sentence(body: str, weights: dict[str, int]) -> tuple[str | None, int]:
    best, best_score = None, 0
    for sent in sentences(body) if has_hangul(body) else english_sentences(body):
        if _INJECTION.search(sent):
            continue  # text in sources is data: never repeat instructions found there
        score = _score(sent, weights)
        if score > best_score:
            best, best_score = sent, score
    return best, best_score


# -- 4. anything else -----------------------------------------------------------------------


_ISSUE = re.compile(r"<issue\b[^>]*>(.*?)</issue>", re.S)
_ISSUE_PAPER = re.compile(r"<paper\b[^>]*>\s*<title>(.*?)</title>\s*(?:<summary>(.*?)</summary>)?", re.S)
_GENERIC_OPENING = re.compile(r"^(?:This|The)\s(?:paper|study|work|research|article)\b", re.I)
INTRO_MAX_WORDS = 90


def intro_reply(issue: str) -> str | None:
    """A newsletter intro from the ``<issue>`` data, extractive: the one-sentence summaries
    of its top papers (2-3, at most ~90 words), each naming its paper by its short title."""
    picked: list[str] = []
    words = 0
    for title, summary in _ISSUE_PAPER.findall(issue):
        title, summary = unescape_data(title).strip(), unescape_data(summary or "").strip()
        if not summary or has_hangul(summary):
            continue
        short = title.split(":", 1)[0].strip()
        sentence = (english_sentences(summary) or [summary])[0]
        if _GENERIC_OPENING.match(sentence):
            sentence = _GENERIC_OPENING.sub(short, sentence, count=1)
        elif short.casefold() not in sentence.casefold():
            sentence = f"{short}: {sentence}"
        n = len(sentence.split())
        if picked and words + n > INTRO_MAX_WORDS:
            break
        picked.append(sentence if sentence.endswith((".", "!", "?")) else sentence + ".")
        words += n
        if len(picked) == 3:
            break
    return " ".join(picked) if picked else None


def text_reply(prompt: str) -> str:
    issue = _ISSUE.search(prompt)
    if issue:
        intro = intro_reply(issue.group(1))
        if intro:
            return intro
    terms = [t for t in latin_terms(prompt) if len(t) > 2][:8]
    if not terms:
        return "This issue collects recent AI research papers and summarizes what is new in each."
    head = ", ".join(terms[:3])
    rest = ", ".join(terms[3:6])
    out = f"This issue covers {head}."
    if rest:
        out += f" It also looks at {rest}."
    return out + " Each summary below links to the paper for details."


# -- embeddings -------------------------------------------------------------------------------


def embed_text(text: str, dims: int = EMBED_DIMS) -> list[float]:
    """Hashed bag of words (Latin words, numbers, Hangul stems and bigrams), L2-normalised."""
    vec = [0.0] * dims
    feats = list(content_terms(text))
    for word in re.findall(f"[{SYLLABLES}]+", text or ""):
        feats.extend(word[i : i + 2] for i in range(len(word) - 1))
    for f in feats:
        h = hashlib.blake2b(f.encode(), digest_size=8).digest()
        idx = int.from_bytes(h[:4], "big") % dims
        vec[idx] += 1.0 if h[4] & 1 else -1.0
    norm = math.sqrt(sum(v * v for v in vec))
    if norm == 0:
        vec[int(hashlib.blake2b((text or "").encode(), digest_size=4).hexdigest(), 16) % dims] = 1.0
        return vec
    return [v / norm for v in vec]


def koreanize(value: Any, text: str) -> Any:
    """Every string of a JSON value replaced by ``text`` (the "korean" fault of a JSON reply)."""
    if isinstance(value, str):
        return text
    if isinstance(value, list):
        return [koreanize(v, text) for v in value]
    if isinstance(value, dict):
        return {k: koreanize(v, text) for k, v in value.items()}
    return value
