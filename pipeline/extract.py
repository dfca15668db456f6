"""Deterministic metadata: no LLM, so every entry gets useful fields even offline.

arXiv id, date, votes and authors come from the parsed entry; links are sorted into
code / project / dataset URLs; every number is kept with the words around it; the
English terms written inside the Korean text are listed.  The same number helpers
check that a key result reported by the LLM really occurs in the source text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Literal
from urllib.parse import urlsplit

from .records import Entry, Metadata, NumberMention

UrlKind = Literal["code", "project", "dataset", "paper"]

# A URL ends at whitespace, Hangul, a closing bracket or a quote (Korean particles are
# often glued to it: "https://github.com/a/b에서").  Also scheme-less links to code hosts.
_HANGUL = "\u1100-\u11ff\u3130-\u318f\ua960-\ua97f\uac00-\ud7a3\ud7b0-\ud7ff"
_URL = re.compile(
    rf"(?:https?://|(?<![\w./@-])(?=(?:www\.)?(?:github\.com|gitlab\.com|huggingface\.co)/))"
    rf"[^\s<>\"'`{_HANGUL})\]}}]+",
    re.IGNORECASE,
)
_URL_TRAIL = ".,;:!?*_~"

_CODE_HOSTS = {
    "github.com",
    "gitlab.com",
    "bitbucket.org",
    "codeberg.org",
    "gitee.com",
    "sourceforge.net",
    "colab.research.google.com",
    "pypi.org",
    "replicate.com",
    "modelscope.cn",
}
_DATASET_HOSTS = {
    "zenodo.org",
    "figshare.com",
    "data.mendeley.com",
    "physionet.org",
    "openml.org",
    "dataverse.harvard.edu",
    "datadryad.org",
    "registry.opendata.aws",
}
_PAPER_HOSTS = {
    "arxiv.org",
    "export.arxiv.org",
    "doi.org",
    "dx.doi.org",
    "openreview.net",
    "aclanthology.org",
    "semanticscholar.org",
    "www.semanticscholar.org",
    "scholar.google.com",
    "papers.nips.cc",
    "proceedings.neurips.cc",
    "openaccess.thecvf.com",
    "cdn-thumbnails.huggingface.co",
}
_HF_HOSTS = {"huggingface.co", "hf.co"}
_HF_NOT_REPOS = {
    "papers",
    "docs",
    "blog",
    "learn",
    "models",
    "spaces",
    "datasets",
    "collections",
    "posts",
    "tasks",
}


def find_urls(text: str) -> list[str]:
    """URLs in running text, in order, without duplicates or trailing punctuation."""
    out: list[str] = []
    for m in _URL.finditer(text or ""):
        url = m.group(0).rstrip(_URL_TRAIL)
        if not url.lower().startswith(("http://", "https://")):
            url = "https://" + url
        if "://" in url and urlsplit(url).hostname and url not in out:
            out.append(url)
    return out


def classify_url(url: str) -> UrlKind:
    """code: repositories, model weights, demos; dataset: data hosting; paper: the paper
    itself (arXiv, DOI...); project: everything else (project pages, github.io sites)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if host.startswith("www."):
        host = host[4:]
    segs = [s for s in parts.path.split("/") if s]
    if host in _PAPER_HOSTS or host.endswith(".arxiv.org"):
        return "paper"
    if host in _HF_HOSTS:
        if not segs:
            return "project"
        head = segs[0].lower()
        if head == "datasets":
            return "dataset"
        if head == "papers":
            return "paper"
        if head == "spaces" or (head not in _HF_NOT_REPOS and len(segs) >= 2):
            return "code"  # a Space (demo with code) or a model repository
        return "project"
    if host in ("kaggle.com",):
        return "dataset" if segs and segs[0].lower() in ("datasets", "competitions") else "project"
    if host == "paperswithcode.com":
        return "dataset" if segs and segs[0].lower() == "dataset" else "project"
    if host in _DATASET_HOSTS:
        return "dataset"
    if host in _CODE_HOSTS or host == "raw.githubusercontent.com":
        return "code"
    return "project"  # *.github.io, project sites, demos, videos


def sort_urls(urls: Iterable[str]) -> dict[UrlKind, list[str]]:
    out: dict[UrlKind, list[str]] = {"code": [], "project": [], "dataset": [], "paper": []}
    for url in urls:
        bucket = out[classify_url(url)]
        if url not in bucket:
            bucket.append(url)
    return out


# -- numbers ---------------------------------------------------------------------------

_N = r"(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
_NUMBER = re.compile(
    rf"(?<![A-Za-z0-9._/])(?P<num>{_N}(?:\s?[-~–]\s?{_N}(?![-~–\d]))?)"
    r"(?P<unit>\s?%p|\s?%|\s?배|\s?[x×](?![A-Za-z0-9])|\s?(?:억|만|천)|(?:[BMKT]|bn)(?![A-Za-z0-9]))?"
)
_SIZE_UNITS = {"B", "M", "K", "T", "bn", "억", "만", "천"}
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n")
_CONTEXT_WORDS = 6


def _kind(unit: str) -> str:
    u = unit.strip()
    if u in ("%", "%p"):
        return "percent"
    if u in ("배", "x", "×"):
        return "multiplier"
    if u in _SIZE_UNITS:
        return "size"
    return "number"


_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")


def _blank_urls(text: str) -> str:
    """URLs and ISO dates hold digits that are no quantities."""
    text = _URL.sub(lambda m: " " * len(m.group(0)), text)
    return _DATE.sub(lambda m: " " * len(m.group(0)), text)


def _is_name_part(text: str, start: int, end: int, unit: str) -> bool:
    """True for digits that belong to a name: GPT-4, v2, LLaMA2, 3D, phi-3-mini."""
    before = text[start - 1] if start > 0 else " "
    after = text[end] if end < len(text) else " "
    if before.isascii() and (before.isalnum() or before in "._/"):
        return True
    if before == "-" and unit.strip() not in _SIZE_UNITS:
        # GPT-4, phi-3 are names; 10-20배 is a range; LLaMA2-7B keeps its size
        prev = text[start - 2] if start > 1 else " "
        return prev.isascii() and prev.isalpha()
    return after.isascii() and (after.isalnum() or after == "_")


def _context(text: str, start: int, end: int) -> str:
    """The words around ``text[start:end]``, within its sentence."""
    lo, hi = 0, len(text)
    for m in _SENTENCE_END.finditer(text):
        if m.end() <= start:
            lo = m.end()
        elif m.start() >= end:
            hi = m.start()
            break
    words = list(re.finditer(r"\S+", text[lo:hi]))
    at = next((i for i, w in enumerate(words) if w.end() + lo > start), 0)
    window = words[max(0, at - _CONTEXT_WORDS) : at + _CONTEXT_WORDS + 1]
    return " ".join(w.group(0) for w in window)


def extract_numbers(text: str) -> list[NumberMention]:
    """Every quantity in ``text`` with its surrounding words: 75.7%, 3.8B, 12,000, 2배, 1.5x..."""
    clean = _blank_urls(text or "")
    out: list[NumberMention] = []
    seen: set[tuple[str, str]] = set()
    for m in _NUMBER.finditer(clean):
        unit = m.group("unit") or ""
        if _is_name_part(clean, m.start(), m.end(), unit):
            continue
        value = m.group(0).strip()
        ctx = _context(clean, m.start(), m.end())
        if (value, ctx) in seen:
            continue
        seen.add((value, ctx))
        out.append(NumberMention(value=value, context=ctx, kind=_kind(unit)))
    return out


_NUM_TOKEN = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?")


def source_numbers(korean: Iterable[str], english: Iterable[str] = ()) -> set[float]:
    """Every number a source states, normalised: ``1,000`` == ``1000``; Korean units count
    both ways (``3.8억`` gives 3.8, 380 (million) and 380,000,000); English scales too."""
    from .korean import output_numbers
    from .korean import source_numbers as korean_numbers

    out: set[float] = set()
    for text in korean:
        for _written, accepted in korean_numbers(text):
            out |= accepted
        out |= output_numbers(text)
    for text in english:
        out |= output_numbers(text)
    return out


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))


def value_in_source(value: str, numbers: set[float], source_text: str) -> bool:
    """A reported value is supported when every number in it occurs in the source
    (``1,000``/``1000``, ``75.7%``/``75.7``); a value without digits must occur verbatim."""
    tokens = _NUM_TOKEN.findall(value or "")
    if not tokens:
        v = " ".join((value or "").split()).casefold()
        return bool(v) and v in " ".join(source_text.split()).casefold()
    for t in tokens:
        x = float(t.replace(",", ""))
        if not any(_close(x, n) for n in numbers):
            return False
    return True


# -- English terms -----------------------------------------------------------------------


def english_terms(text: str) -> list[str]:
    from .korean import english_terms as _terms

    return _terms(text)


# -- the whole deterministic record -----------------------------------------------------

DETERMINISTIC_FIELDS = (
    "arxiv_id",
    "date",
    "votes",
    "authors",
    "code_urls",
    "project_urls",
    "dataset_urls",
    "numbers",
    "english_terms",
)


def entry_text(entry: Entry) -> str:
    return "\n".join(s.text for s in entry.sections)


def extract_metadata(entry: Entry) -> Metadata:
    """The deterministic part of an entry's metadata (``llm_status="skipped"``)."""
    text = entry_text(entry)
    urls = list(entry.links)
    for s in entry.sections:
        urls.extend(u for u in find_urls(s.text) if u not in urls)
    # parse may keep a trailing particle-free URL; prefer the cleaned version
    by_kind = sort_urls(_dedupe_prefixes(urls))
    numbers: list[NumberMention] = []
    for s in entry.sections:
        numbers.extend(extract_numbers(s.text))
    terms: list[str] = []
    for t in english_terms(text):
        if t not in terms:
            terms.append(t)
    meta = Metadata(
        entry_id=entry.id,
        arxiv_id=entry.arxiv_id,
        date=entry.date,
        votes=entry.votes,
        authors=list(entry.authors),
        code_urls=by_kind["code"],
        project_urls=by_kind["project"],
        dataset_urls=by_kind["dataset"],
        numbers=numbers,
        english_terms=terms,
    )
    meta.field_sources = {
        f: "deterministic" for f in DETERMINISTIC_FIELDS if getattr(meta, f) not in (None, [])
    }
    return meta


def _dedupe_prefixes(urls: list[str]) -> list[str]:
    """Drop a URL that is another one plus glued text (``.../repo`` vs ``.../repo에서``)."""
    out: list[str] = []
    for u in urls:
        if _URL.fullmatch(u) is None:
            cleaned = find_urls(u)
            u = cleaned[0] if cleaned else u
        if u not in out:
            out.append(u)
    return out
