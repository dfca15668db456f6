"""The README's promises: its two opening commands, and the published metadata schema."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.paths import ROOT

README = (ROOT / "README.md").read_text()


def test_readme_opens_with_setup_and_test_commands() -> None:
    block = re.search(r"```bash\n(.*?)```", README, re.S)
    assert block is not None
    commands = [c for c in block.group(1).splitlines() if c.strip()]
    assert commands == ["./setup.sh && .venv/bin/digest run --llm mock seeds/", ".venv/bin/python -m pytest"]
    ci = (ROOT / ".ci" / "run").read_text()
    assert commands[0] in ci and commands[1] in ci


def test_published_schema_matches_the_model() -> None:
    from pipeline.stages.enrich.schema import metadata_json_schema

    block = re.search(r"<summary>metadata.schema.json</summary>\s*```json\n(.*?)```", README, re.S)
    assert block is not None
    assert json.loads(block.group(1)) == metadata_json_schema()


# -- the README's excerpts are the output of the commands it documents -----------------------

ASK_BLOCK = re.compile(r"<!-- readme-excerpt: ask -->\n(.*?)<!-- /readme-excerpt -->", re.S)
NEWS_BLOCK = re.compile(r"<!-- readme-excerpt: newsletter (\S+) -->\n(.*?)<!-- /readme-excerpt -->", re.S)
QUESTION = "Which paper runs a clinical language model on mobile devices?"


@pytest.fixture(scope="module")
def fresh_run(tmp_path_factory: pytest.TempPathFactory):
    """``digest run --llm mock seeds/`` in a fresh folder, as a new user runs it (index
    included: the local embedding model), and the ``digest ask`` of the README."""
    from click.testing import CliRunner

    from pipeline.cli import main
    from tests.conftest import clean_env

    out = tmp_path_factory.mktemp("readme") / "outputs"
    runner = CliRunner()
    with pytest.MonkeyPatch.context() as mp:
        clean_env(mp, tmp_path_factory.mktemp("home"))
        ran = runner.invoke(main, ["-q", "run", "--llm", "mock", str(ROOT / "seeds"), "--out", str(out)])
        assert ran.exit_code == 0, ran.output
        block = ASK_BLOCK.search(README)
        written = re.search(r'^\$ digest ask --llm mock "(.+)"$', block.group(1) if block else "", re.M)
        question = written.group(1) if written else QUESTION
        asked = runner.invoke(main, ["-q", "ask", "--llm", "mock", "--out", str(out), question])
        assert asked.exit_code == 0, asked.output
    return out, ran.output, question, asked.output


def _news_excerpt(out: Path, name: str) -> str:
    """The issue's head: title, intro, top papers and the first paper of the first topic."""
    text = (out / "newsletter" / name).read_text(encoding="utf-8")
    head, _, rest = text.partition("\n#### ")
    first_paper = rest.split("\n#### ", 1)[0]
    return f"```markdown\n{head}\n#### {first_paper.rstrip()}\n```\n"


def _ask_excerpt(question: str, output: str) -> str:
    return f'```\n$ digest ask --llm mock "{question}"\n{output.rstrip()}\n```\n'


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_readme_excerpts_are_fresh_output(fresh_run, request: pytest.FixtureRequest) -> None:
    out, ran, question, asked = fresh_run
    news = NEWS_BLOCK.search(README)
    assert news is not None and ASK_BLOCK.search(README) is not None
    want = {"news": _news_excerpt(out, news.group(1)), "ask": _ask_excerpt(question, asked)}
    if request.config.getoption("--update-readme"):
        text = README[: news.start(2)] + want["news"] + README[news.end(2) :]
        ask = ASK_BLOCK.search(text)
        text = text[: ask.start(1)] + want["ask"] + text[ask.end(1) :]
        (ROOT / "README.md").write_text(text, encoding="utf-8")
        return
    assert news.group(2) == want["news"], "README newsletter excerpt is stale: pytest --update-readme"
    assert ASK_BLOCK.search(README).group(1) == want["ask"], (
        "README ask excerpt is stale: pytest --update-readme"
    )


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_first_run_ends_with_where_to_look_and_an_extractive_cited_answer(fresh_run) -> None:
    out, ran, question, asked = fresh_run
    assert "444/444 sections from the reviewed translation memory" in ran
    assert re.search(r"Read the newsletter: \S+digest-2024-12-11\.html \(5 issues in ", ran)
    example = re.search(
        r"Ask the digests: +digest ask --llm mock --out (\S+) '(Which paper introduces .+\?)'", ran
    )
    assert example and Path(example.group(1)) == out
    # the README shows the same two lines for the default output folder
    assert f"Ask the digests:     digest ask --llm mock '{example.group(2)}'" in README
    assert re.search(
        r"Read the newsletter: outputs/newsletter/digest-2024-12-11\.html \(5 issues in ", README
    )
    # the answer is a sentence of the reviewed English, with the citation of its paper
    answer, _, sources = asked.partition("Sources:")
    sentence, cite = re.fullmatch(r"(.+) \[(\d{4}\.\d{5})\]\s*", answer, re.S).groups()
    english = (ROOT / "seeds" / "memory.jsonl").read_text(encoding="utf-8")
    assert json.dumps(sentence.split(": ", 1)[-1], ensure_ascii=False)[1:-1] in english
    assert f"[{cite}]" in sources and "MedMobile" in sources
