"""The first run reads like the real thing (issue 12): ``digest run --llm mock seeds/`` takes
every section from the reviewed memory, and the newsletters it writes hold English from the
translations (no romanised Korean, no template sentences); the mock's TL;DRs, key results and
intros are pieces of that English."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from pipeline.llm.mock.romanize import romanize
from pipeline.text.hangul import HANGUL_RUN, has_hangul
from tests.paths import SEEDS

# what the mock wrote before it read English: "X is presented, with results reported for Y."
TEMPLATES = [
    re.compile(r"is presented, with results reported for", re.I),
    re.compile(r"This issue covers .*It also looks at", re.I | re.S),
    re.compile(r"Each summary below links to the paper", re.I),
]


def _latin_words(text: str) -> set[str]:
    return {w.lower() for w in re.findall(r"[A-Za-z]+", text)}


@pytest.fixture(scope="module")
def romanised() -> set[str]:
    """Every Korean word of the seeds as the mock romanises it ("pyeonggahapnida"), minus
    words that are also English or written in Latin letters in the digests (names: "Yang")."""
    korean = " ".join(p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt")))
    english = " ".join(json.loads(line)["en"] for line in (SEEDS / "memory.jsonl").open(encoding="utf-8"))
    known = _latin_words(english) | _latin_words(korean)
    words = {romanize(w).lower() for w in HANGUL_RUN.findall(korean)}
    return {w for w in words if len(w) >= 4 and w.isalpha() and w not in known}


def test_the_detector_finds_what_the_old_mock_wrote(romanised: set[str]) -> None:
    from pipeline.llm.mock.lexicon import mock_translate

    old = mock_translate("새로운 파이프라인을 활용합니다. 성능을 평가합니다.")
    assert _latin_words(old) & romanised  # e.g. "paipeurain", "hwalyonghapnida"


def test_memory_and_where_to_look_in_the_summary(seeds_run_without_index: tuple[Path, str]) -> None:
    out, printed = seeds_run_without_index
    assert "444/444 sections from the reviewed translation memory" in printed
    assert "model 0, cache 0, memory 444" in printed
    m = re.search(r"Read the newsletter: (\S+\.html) \(5 issues in ", printed)
    assert m and Path(m.group(1)).is_file() and Path(m.group(1)).parent == out / "newsletter"
    assert "Ask the digests" not in printed  # no index was built in this run: nothing to ask


def test_newsletters_hold_no_romanised_korean_and_no_template(
    seeds_run_without_index: tuple[Path, str], romanised: set[str]
) -> None:
    out, _ = seeds_run_without_index
    files = sorted((out / "newsletter").glob("digest-*.*"))
    assert {p.suffix for p in files} == {".md", ".html", ".xml"} and len(files) == 15
    files.append(out / "newsletter" / "feed.xml")  # the cumulative feed
    for path in files:
        text = path.read_text(encoding="utf-8")
        found = sorted(_latin_words(text) & romanised)
        assert not found, f"{path.name}: romanised Korean {found[:10]}"
        for template in TEMPLATES:
            assert not template.search(text), f"{path.name}: template sentence {template.pattern}"
        assert (
            not has_hangul(re.sub(r"<[^>]+>", "", text).replace("Korean original", ""))
            or path.suffix == ".xml"
        )


def _english(out: Path) -> dict[str, str]:
    by_entry: dict[str, list[str]] = {}
    for line in (out / "translations.jsonl").open(encoding="utf-8"):
        r = json.loads(line)
        by_entry.setdefault(r["entry_id"], []).append(r["text"])
    return {k: " ".join(" ".join(v).split()) for k, v in by_entry.items()}


def test_tldrs_and_key_results_are_taken_from_the_english(seeds_run_without_index: tuple[Path, str]) -> None:
    out, _ = seeds_run_without_index
    english = _english(out)
    metas = [json.loads(line) for line in (out / "metadata.jsonl").open(encoding="utf-8")]
    assert len(metas) == 131
    results = 0
    for m in metas:
        text = english[m["entry_id"]]
        tldr = m["tldr"]
        assert tldr and len(tldr.split()) <= 31 and tldr.endswith("."), tldr
        # the TL;DR is the start of a sentence of the English (cut at a clause boundary)
        assert tldr[:-1].rstrip(" ,;:") in text, (m["entry_id"], tldr)
        for kr in m["key_results"]:
            results += 1
            assert kr["value"] in kr["context"] and kr["context"] in text, kr
            assert kr["metric"].strip() and not has_hangul(kr["metric"])
        for field in ("methods", "datasets", "benchmarks", "keywords"):
            for name in m[field]:
                assert name.casefold() in text.casefold() or name in m["methods"], (field, name)
    assert results >= 50  # the seeds report many numbers: the mock finds them


def test_intros_are_the_top_papers_tldrs(seeds_run_without_index: tuple[Path, str]) -> None:
    out, _ = seeds_run_without_index
    tldrs = {json.loads(line)["tldr"] for line in (out / "metadata.jsonl").open(encoding="utf-8")}
    intros = [
        json.loads(line)["value"]["text"]
        for line in (out / "cache" / "newsletter.jsonl").open(encoding="utf-8")
        if line.strip()
    ]
    assert len(intros) == 5
    for intro in intros:
        sentences = re.split(r"(?<=\.) (?=[A-Z])", intro)
        assert 2 <= len(sentences) <= 3 and len(intro.split()) <= 100, intro
        for sentence in sentences:
            # a TL;DR, led by its paper's short title when it does not name the paper
            assert any(sentence[-40:-1] in t for t in tldrs), sentence
