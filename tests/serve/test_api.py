"""The JSON API's contract, endpoint by endpoint, against the in-process results; the
OpenAPI document (served, checked in, and describing what the endpoints really return)."""

from __future__ import annotations

import json
from datetime import date
from urllib.parse import quote

import pytest
from jsonschema import Draft202012Validator

from pipeline.cli.ask import answer_json as cli_answer_json
from pipeline.llm import make_llm
from pipeline.llm.mock import MockLLM
from pipeline.retrieval.ask import AskSession
from pipeline.retrieval.searcher import Searcher
from pipeline.serve.discovery import settings_fingerprint
from pipeline.serve.openapi import openapi_document
from pipeline.serve.service import package_version
from pipeline.stages.newsletter.stage import newsletter_stage
from tests.paths import ROOT
from tests.retrieval.helpers import make_retrieval_out
from tests.serve.helpers import call, post_json, running

PARROT = "2406.02539"


@pytest.fixture(scope="module")
def settings(tmp_path_factory):
    s = make_retrieval_out(tmp_path_factory.mktemp("serve-api"))
    newsletter_stage(s, date=date(2024, 6, 6), formats=["md", "html", "rss"], intro=False)
    return s


@pytest.fixture(scope="module")
def server(settings):
    with running(settings, llm=make_llm(settings, mock=MockLLM())) as srv:
        yield srv


@pytest.fixture(scope="module")
def searcher(settings):
    return Searcher(settings)


def schema_validator(name: str) -> Draft202012Validator:
    doc = openapi_document(package_version())
    return Draft202012Validator({"$ref": f"#/components/schemas/{name}", "components": doc["components"]})


def test_health(server, settings, searcher):
    r = call(server.url + "/api/health")
    assert r.status == 200 and r.headers["Content-Type"].startswith("application/json")
    h = r.json
    schema_validator("Health").validate(h)
    assert h["status"] == "ok" and h["documents"] == len(searcher.docs) == 5
    assert h["settings"] == settings_fingerprint(settings)
    assert h["out_dir"] == str(settings.out_dir.resolve())


@pytest.mark.parametrize(
    "params",
    [
        {"q": "multilingual visual instruction tuning"},
        {"q": "스마트폰 에이전트", "k": "3"},
        {"q": "video diffusion", "since": "2024-10-01", "min_votes": "5"},
        {"q": "model", "topic": "multimodal", "until": "2024-10-21"},
    ],
)
def test_search_returns_the_in_process_hits(server, searcher, params):
    r = call(server.url + "/api/search?" + "&".join(f"{k}={quote(v)}" for k, v in params.items()))
    assert r.status == 200, r.text
    schema_validator("SearchResponse").validate(r.json)
    kwargs = {k: v for k, v in params.items() if k != "q"}
    for key in ("k", "min_votes"):
        if key in kwargs:
            kwargs[key] = int(kwargs[key])
    expected = searcher.search(params["q"], **kwargs)
    assert r.json["hits"] == [h.model_dump(mode="json") for h in expected]
    assert r.json["query"] == params["q"] and r.json["k"] == int(params.get("k", 10))


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("", "q"),
        ("q=", "q"),
        ("q=x&k=0", "k"),
        ("q=x&k=abc", "k"),
        ("q=x&k=1000", "k"),
        ("q=x&since=2024-13-01", "since"),
        ("q=x&until=yesterday", "until"),
        ("q=x&since=2024-10-02&until=2024-10-01", "since"),
        ("q=x&topic=cooking", "topic"),
        ("q=x&min_votes=-1", "min_votes"),
        ("q=x&q=y", "q"),
        ("q=x&limit=3", "limit"),
    ],
)
def test_bad_search_parameters_are_400_naming_the_parameter(server, query, parameter):
    r = call(server.url + "/api/search?" + query)
    assert r.status == 400
    schema_validator("ErrorResponse").validate(r.json)
    assert r.json["error"]["parameter"] == parameter
    assert parameter in r.json["error"]["message"]


def test_ask_returns_what_ask_json_prints(server, settings):
    question = "What is the size of the MMMB benchmark from Parrot, in questions?"
    r = post_json(server.url + "/api/ask", {"question": question})
    assert r.status == 200, r.text
    schema_validator("AskResponse").validate(r.json)
    local = AskSession(settings, llm=make_llm(settings, mock=MockLLM())).ask(question)
    assert r.json == cli_answer_json(local)
    assert r.json["citations"][0]["arxiv_id"] == PARROT and not r.json["refused"]
    assert set(r.json["retrieved"][0]) == {"arxiv_id", "entry_id", "title", "score", "relevance", "ranks"}


def test_ask_in_korean_and_refusal(server):
    ko = post_json(server.url + "/api/ask", {"question": "MMMB 벤치마크의 질문은 몇 개인가요?", "lang": "ko"})
    assert ko.status == 200 and ko.json["language"] == "ko"
    off = post_json(server.url + "/api/ask", {"question": "What is the capital of France?"})
    assert off.status == 200 and off.json["refused"] and off.json["citations"] == []


def test_ask_follow_up_uses_the_history(server):
    first = "Which paper splits phone operation into planning, decision and reflection agents?"
    answer = post_json(server.url + "/api/ask", {"question": first}).json
    follow = post_json(
        server.url + "/api/ask",
        {
            "question": "How many agents does it use?",
            "history": [{"question": first, "answer": answer["answer"]}],
        },
    )
    assert follow.status == 200
    assert "2406.01014" in [h["arxiv_id"] for h in follow.json["retrieved"]]


@pytest.mark.parametrize(
    ("body", "status", "parameter"),
    [
        ({}, 400, "question"),
        ({"question": ""}, 400, "question"),
        ({"question": "x", "lang": "fr"}, 400, "lang"),
        ({"question": "x", "k": 0}, 400, "k"),
        ({"question": "x", "colour": "red"}, 400, "colour"),
    ],
)
def test_bad_ask_requests(server, body, status, parameter):
    r = post_json(server.url + "/api/ask", body)
    assert r.status == status and r.json["error"]["parameter"] == parameter


def test_ask_wants_json(server):
    r = call(server.url + "/api/ask", data=b"question=x", headers={"Content-Type": "text/plain"})
    assert r.status == 415 and "application/json" in r.json["error"]["message"]
    broken = call(server.url + "/api/ask", data=b"{not json", headers={"Content-Type": "application/json"})
    assert broken.status == 400 and "error" in broken.json
    too_big = post_json(server.url + "/api/ask", {"question": "x" * 70_000})
    assert too_big.status == 413
    assert call(server.url + "/api/ask").status == 405


def test_entries(server, searcher):
    r = call(server.url + f"/api/entries/{PARROT}")
    assert r.status == 200
    schema_validator("EntryResponse").validate(r.json)
    assert r.json["title"] == searcher.doc(PARROT).title
    assert r.json["url"] == f"https://arxiv.org/abs/{PARROT}" and r.json["korean"]
    missing = call(server.url + "/api/entries/9999.99999")
    assert missing.status == 404 and "9999.99999" in missing.json["error"]["message"]


def test_newsletters(server):
    listed = call(server.url + "/api/newsletters")
    assert listed.status == 200
    schema_validator("NewsletterList").validate(listed.json)
    (issue,) = listed.json["newsletters"]
    assert issue["id"] == "2024-06-06" and sorted(issue["formats"]) == ["html", "md", "rss"]
    for fmt, ctype, marker in (
        ("md", "text/markdown", "Parrot"),
        ("html", "text/html", "<!DOCTYPE html>"),
        ("rss", "application/rss+xml", "<rss"),
    ):
        r = call(server.url + f"/api/newsletters/2024-06-06?format={fmt}")
        assert r.status == 200 and r.headers["Content-Type"].startswith(ctype) and marker in r.text
    assert (
        "default-src 'none'"
        in call(server.url + "/api/newsletters/latest").headers["Content-Security-Policy"]
    )
    assert call(server.url + "/api/newsletters/2024-06-07").status == 404
    assert call(server.url + "/api/newsletters/June").json["error"]["parameter"] == "date"
    assert call(server.url + "/api/newsletters/2024-06-06?format=pdf").json["error"]["parameter"] == "format"


def test_openapi_is_served_and_checked_in():
    doc = openapi_document(package_version())
    checked_in = json.loads((ROOT / "docs" / "openapi.json").read_text(encoding="utf-8"))
    assert checked_in == doc, "docs/openapi.json is stale: digest serve --openapi > docs/openapi.json"
    assert doc["openapi"].startswith("3.1")
    assert set(doc["paths"]) == {
        "/api/search",
        "/api/ask",
        "/api/entries/{id}",
        "/api/newsletters",
        "/api/newsletters/{date}",
        "/api/health",
    }
    Draft202012Validator.check_schema(doc["components"]["schemas"]["AskRequest"])


def test_openapi_endpoint(server):
    r = call(server.url + "/openapi.json")
    assert r.status == 200 and r.json == openapi_document(package_version())


def test_unknown_paths_and_methods_are_json_errors(server):
    for path, method, status in (("/api/nothing", "GET", 404), ("/api/search", "DELETE", 405)):
        r = call(server.url + path, method=method)
        assert r.status == status and r.json["error"]["status"] == status


def test_an_internal_error_leaks_no_traceback_or_secret(server, monkeypatch):
    def boom(**kwargs):
        raise RuntimeError("exploded with key sk-abcdefghijklmnop1234 in /secret/path")

    monkeypatch.setattr(server.service, "search", boom)
    r = call(server.url + "/api/search?q=x")
    assert r.status == 500
    assert r.json["error"]["message"] == "internal error (see the server's log)"
    assert "sk-" not in r.text and "Traceback" not in r.text and "/secret" not in r.text


def test_foreign_host_and_cross_origin_posts_are_refused(server):
    assert call(server.url + "/api/health", headers={"Host": "evil.example:8765"}).status == 403
    r = post_json(server.url + "/api/ask", {"question": "x"}, Origin="http://evil.example")
    assert r.status == 403 and "cross-origin" in r.json["error"]["message"]
    page = call(server.url + "/ask", data=b"question=x", headers={"Origin": "http://evil.example"})
    assert page.status == 403
