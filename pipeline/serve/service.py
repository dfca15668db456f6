"""What ``digest serve`` does, without HTTP: the searcher, the ask session and the newsletters
of one output folder, loaded once and shared by the request threads.

Request parameters arrive as strings and are checked here: a bad one is a
:class:`BadParameter` naming it (HTTP 400).  The searcher is used by one thread at a time
(its retrievers and models are not made for concurrent use); an LLM call does not hold it.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date as Date
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, TypeVar

from ..errors import DigestError, InputError
from ..records import Answer, Hit, IndexDoc
from ..retrieval.ask import AskSession, ask
from ..retrieval.followup import Turn
from ..retrieval.searcher import Searcher
from ..settings import Settings
from ..stages.newsletter.formats import FORMATS, get_format
from ..stages.newsletter.model import issue_slug
from ..store.layout import OutDir
from ..taxonomy import Topic
from ..text.urls import arxiv_abs_url
from .discovery import settings_fingerprint
from .schema import AskRequest, EntryResponse, Health, NewsletterInfo, SearchResponse

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_K = 100
MAX_QUERY = 2000
_ISSUE_ID = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:_(\d{4}-\d{2}-\d{2}))?$")
CONTENT_TYPES = {
    "md": "text/markdown; charset=utf-8",
    "html": "text/html; charset=utf-8",
    "rss": "application/rss+xml; charset=utf-8",
}


class BadParameter(InputError):
    """A request parameter is missing or invalid (HTTP 400)."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(f"{parameter}: {message}")
        self.parameter = parameter


class NotFound(DigestError):
    """No such entry or newsletter (HTTP 404)."""

    exit_code = 3


def package_version() -> str:
    try:
        return version("digest")
    except PackageNotFoundError:
        return "unknown"


class SearchWorker:
    """The searcher, used from one thread of its own: requests queue for it (its retrievers
    and models are not made for concurrent use, and torch runs fastest on a thread it has
    seen before: a new thread per request costs it hundreds of ms).  Offers what ``ask``
    uses of a searcher: ``search``, ``doc``, ``support`` and ``bridge``."""

    def __init__(self, searcher: Searcher) -> None:
        self.searcher = searcher
        self.settings = searcher.settings
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="searcher")

    def submit(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> Future[T]:
        return self._pool.submit(fn, *args, **kwargs)

    def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return self.submit(fn, *args, **kwargs).result()

    def search(self, query: str, **kwargs: Any) -> list[Hit]:
        return self.run(self.searcher.search, query, **kwargs)

    def doc(self, entry_id: str) -> IndexDoc:
        return self.run(self.searcher.doc, entry_id)

    @property
    def bridge(self) -> Any:  # the query bridge's table: read-only, safe from any thread
        return self.searcher.bridge

    def support(self, question: str, entry_ids: list[str], **kwargs: Any) -> Any:
        return self.run(self.searcher.support, question, entry_ids, **kwargs)

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        close = getattr(self.searcher, "close", None)  # a searcher with a document store
        if close is not None:
            close()


# -- parameters ------------------------------------------------------------------------------------


def _one(params: Mapping[str, list[str]], name: str) -> str | None:
    values = params.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise BadParameter(name, "given more than once")
    return values[0]


def _int(params: Mapping[str, list[str]], name: str, lo: int, hi: int | None = None) -> int | None:
    raw = _one(params, name)
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise BadParameter(name, f"not an integer: {raw[:40]!r}") from None
    if value < lo or (hi is not None and value > hi):
        raise BadParameter(name, f"must be {lo}..{hi}" if hi is not None else f"must be at least {lo}")
    return value


def _date(params: Mapping[str, list[str]], name: str) -> Date | None:
    raw = _one(params, name)
    if raw is None or raw == "":
        return None
    try:
        return Date.fromisoformat(raw)
    except ValueError:
        raise BadParameter(name, f"not a date (YYYY-MM-DD): {raw[:40]!r}") from None


def _topic(params: Mapping[str, list[str]]) -> str | None:
    raw = _one(params, "topic")
    if raw is None or raw == "":
        return None
    key = raw.strip().casefold()
    if key not in {t.value for t in Topic}:
        raise BadParameter(
            "topic", f"unknown topic {raw[:40]!r}; one of: " + ", ".join(t.value for t in Topic)
        )
    return key


def search_params(params: Mapping[str, list[str]]) -> dict[str, Any]:
    """The keyword arguments of ``Searcher.search`` from ``/api/search``'s query string."""
    unknown = sorted(set(params) - {"q", "k", "since", "until", "topic", "min_votes"})
    if unknown:
        raise BadParameter(unknown[0], "unknown parameter")
    q = (_one(params, "q") or "").strip()
    if not q:
        raise BadParameter("q", "the query is missing or empty")
    if len(q) > MAX_QUERY:
        raise BadParameter("q", f"longer than {MAX_QUERY} characters")
    found = {
        "query": q,
        "k": _int(params, "k", 1, MAX_K),
        "since": _date(params, "since"),
        "until": _date(params, "until"),
        "topic": _topic(params),
        "min_votes": _int(params, "min_votes", 0),
    }
    if found["since"] and found["until"] and found["since"] > found["until"]:
        raise BadParameter("since", f"{found['since']} is after until {found['until']}")
    return found


# -- the service -----------------------------------------------------------------------------------


class Service:
    """The loaded output folder.  ``warm``: load the models now rather than on first use."""

    def __init__(self, settings: Settings, *, llm: Any = None, warm: bool = True) -> None:
        self.settings = settings
        self.started = time.monotonic()
        self.fingerprint = settings_fingerprint(settings)
        self._llm_lock = threading.Lock()
        self.session = AskSession(settings, llm=llm)
        self.searcher = SearchWorker(self.session.searcher)
        self.ready = threading.Event()
        if warm:  # in the background: requests queue behind it, health answers at once
            self.searcher.submit(self._warm_up)
        else:
            self.ready.set()

    def close(self) -> None:
        self.searcher.close()

    def _warm_up(self) -> None:
        started = time.monotonic()
        try:
            self.session.searcher.warm_up()
        except Exception:  # a model that fails to load fails the requests that need it, clearly
            log.exception("loading the models failed")
        else:
            log.info("models loaded in %.1f s", time.monotonic() - started)
        finally:
            self.ready.set()

    def search(self, **params: Any) -> SearchResponse:
        query = params.pop("query")
        k = params.get("k") or self.settings.search.k
        hits = self.searcher.search(query, **{**params, "k": k})
        best = max((h.relevance or 0.0 for h in hits), default=1.0)
        return SearchResponse(
            query=query, k=k, hits=hits, weak_match=best < self.settings.search.min_relevance
        )

    def ask(self, request: AskRequest) -> Answer:
        settings = self.settings
        if request.lang is not None or request.k is not None:
            settings = settings.model_copy(
                update={
                    "ask": settings.ask.model_copy(
                        update={
                            k: v for k, v in (("language", request.lang), ("k", request.k)) if v is not None
                        }
                    )
                }
            )
        history = [Turn(t.question, t.answer) for t in request.history]
        with self._llm_lock:  # made once, on the first question that needs it
            llm = self.session.llm
        return ask(settings, request.question, llm=llm, searcher=self.searcher, history=history)  # type: ignore[arg-type]

    def entry(self, entry_id: str) -> EntryResponse:
        try:
            doc = self.searcher.doc(entry_id)
        except (KeyError, IndexError):
            raise NotFound(f"no entry {entry_id[:80]!r} in the index") from None
        return EntryResponse(**doc.model_dump(), url=arxiv_abs_url(doc.arxiv_id))

    def health(self) -> Health:
        return Health(
            version=package_version(),
            pid=os.getpid(),
            out_dir=str(Path(self.settings.out_dir).resolve()),
            documents=len(self.session.searcher.docs),
            uptime_s=round(time.monotonic() - self.started, 3),
            settings=self.fingerprint,
            ready=self.ready.is_set(),
        )

    # -- newsletters (the files `digest newsletter` wrote) ----------------------------------------

    def newsletters(self) -> list[NewsletterInfo]:
        folder = OutDir(self.settings.out_dir).newsletter_dir
        found: dict[str, NewsletterInfo] = {}
        suffixes = {f.suffix: name for name, f in FORMATS.items()}
        for path in sorted(folder.glob("*")) if folder.is_dir() else []:
            fmt = suffixes.get(path.suffix)
            parsed = _issue_id(path.stem)
            if fmt is None or parsed is None:
                continue
            since, until, issue_id = parsed
            info = found.setdefault(
                issue_id, NewsletterInfo(id=issue_id, since=since, until=until, formats=[])
            )
            info.formats.append(fmt)
        return sorted(found.values(), key=lambda i: (i.until or Date.min, i.since or Date.min), reverse=True)

    def newsletter(self, issue_id: str, fmt_name: str | None) -> tuple[str, str]:
        """(content type, text) of one issue; ``latest``: the newest."""
        try:
            fmt = get_format(fmt_name or "html")
        except DigestError:
            raise BadParameter(
                "format", f"unknown format {fmt_name!r}; one of: {', '.join(FORMATS)}"
            ) from None
        if issue_id == "latest":
            listed = self.newsletters()
            if not listed:
                raise NotFound("no newsletter written yet: run `digest newsletter`")
            issue_id = listed[0].id
        parsed = _parse_id(issue_id)
        if parsed is None:
            raise BadParameter("date", "not YYYY-MM-DD, YYYY-MM-DD_YYYY-MM-DD or latest")
        path = OutDir(self.settings.out_dir).newsletter_dir / f"{issue_slug(*parsed)}{fmt.suffix}"
        if not path.is_file():
            raise NotFound(
                f"no {fmt.name} newsletter for {issue_id}: run `digest newsletter --date ... --format {fmt.name}`"
            )
        return CONTENT_TYPES.get(fmt.name, "text/plain; charset=utf-8"), path.read_text(encoding="utf-8")


def _parse_id(issue_id: str) -> tuple[Date, Date] | None:
    m = _ISSUE_ID.match(issue_id)
    if m is None:
        return None
    try:
        since = Date.fromisoformat(m.group(1))
        until = Date.fromisoformat(m.group(2)) if m.group(2) else since
    except ValueError:
        return None
    return since, until


def _issue_id(stem: str) -> tuple[Date, Date, str] | None:
    """(since, until, id) of a newsletter file's stem, if it is an issue's."""
    prefix, _, rest = stem.partition("-")
    parsed = _parse_id(rest) if prefix else None
    if parsed is None or issue_slug(*parsed) != stem:
        return None
    return parsed[0], parsed[1], rest
