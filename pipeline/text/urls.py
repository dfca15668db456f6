"""URLs in running text: THE extractor, and what kind of link each is.

A URL starts at ``http(s)://`` or, without a scheme, at ``www.`` or a code host
(``github.com/...``, ``gitlab.com/...``, ``huggingface.co/...``; given ``https://``).  It
ends at white space, Hangul (Korean particles are often glued to it:
``https://github.com/a/b에서``), a quote, ``<`` / ``>`` (``<https://...>``) or a square or
curly bracket.  Parentheses belong to it only when balanced
(``https://en.wikipedia.org/wiki/Transformer_(deep_learning)``), so a markdown link
``[x](https://...)`` or a parenthesised URL loses its closing one; trailing punctuation
(``.,;:!?`` and markdown emphasis ``*_~``) is dropped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Literal
from urllib.parse import urlsplit

from .hangul import HANGUL_CHARS

UrlKind = Literal["code", "project", "dataset", "paper"]

_URL = re.compile(
    r"(?:https?://|(?<![\w./@-])(?=www\.[A-Za-z0-9-]+\.[A-Za-z]|(?:github\.com|gitlab\.com|huggingface\.co)/))"
    rf"[^\s<>\"'`{HANGUL_CHARS}\[\]{{}}]+",
    re.IGNORECASE,
)
_TRAIL = ".,;:!?*_~"


def _trim(url: str) -> str:
    while url:
        if url[-1] in _TRAIL or (url[-1] == ")" and url.count("(") < url.count(")")):
            url = url[:-1]
            continue
        break
    return url


def _matches(text: str) -> Iterable[tuple[int, str]]:
    """(start, url as written, trimmed) of every URL in ``text``."""
    for m in _URL.finditer(text or ""):
        url = _trim(m.group(0))
        if url:
            yield m.start(), url


def find_urls(text: str) -> list[str]:
    """URLs in running text, in order, without duplicates; scheme-less ones get ``https://``."""
    out: list[str] = []
    for _start, url in _matches(text):
        if not url.lower().startswith(("http://", "https://")):
            url = "https://" + url
        if urlsplit(url).hostname and url not in out:
            out.append(url)
    return out


def blank_urls(text: str) -> str:
    """``text`` with every URL replaced by as many spaces (their digits are no numbers,
    their words no terms); positions are kept."""
    chars = list(text or "")
    for start, url in _matches(text):
        chars[start : start + len(url)] = " " * len(url)
    return "".join(chars)


def normalize_urls(urls: Iterable[str]) -> list[str]:
    """Each URL as the extractor would read it (a stored link may carry glued text), deduplicated."""
    out: list[str] = []
    for u in urls:
        found = find_urls(u)
        u = found[0] if found else u
        if u not in out:
            out.append(u)
    return out


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


# -- arXiv -------------------------------------------------------------------------------

_ARXIV = re.compile(
    r"(?:arxiv\.org/(?:abs|pdf|html)/|huggingface\.co/papers/)"
    r"(?P<id>\d{4}\.\d{4,5}|[a-z\-]+(?:\.[A-Z]{2})?/\d{7})(?P<v>v\d+)?",
    re.IGNORECASE,
)


def arxiv_from_url(url: str | None) -> tuple[str | None, str | None]:
    if not url:
        return None, None
    m = _ARXIV.search(url)
    if not m:
        return None, None
    return m.group("id"), m.group("v")


def arxiv_abs_url(arxiv_id: str | None) -> str | None:
    """The abstract page of an arXiv id (``2406.01014`` or ``hep-th/9901001``), else None."""
    if not arxiv_id or not re.fullmatch(r"\d{4}\.\d{4,5}(?:v\d+)?|[a-z\-]+(?:\.[A-Z]{2})?/\d{7}", arxiv_id):
        return None
    return f"https://arxiv.org/abs/{arxiv_id}"
