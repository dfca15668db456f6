"""The snippet is the English line sharing most query words (the first on a tie, the first
line when none does); only lines that can share a word are tokenised."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.records import IndexDoc
from pipeline.retrieval.searcher import _snippet
from pipeline.text.english import tokenize_en

WORDS = ["studies", "study", "agents", "agent", "model", "models", "improved", "video", "the", "y"]


def _reference(lines: list[str], query_tokens: list[str]) -> str:
    wanted = set(query_tokens)
    return max(lines, key=lambda line: (len(wanted & set(tokenize_en(line))), -lines.index(line)))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.lists(st.sampled_from(WORDS), min_size=1, max_size=6), min_size=1, max_size=6),
    st.lists(st.sampled_from(WORDS), min_size=0, max_size=4),
)
def test_equals_scoring_every_line(line_words: list[list[str]], query: list[str]) -> None:
    lines = [" ".join(words).capitalize() + "." for words in line_words]
    doc = IndexDoc.model_construct(translated="\n".join(lines), korean="", title="t")
    tokens = tokenize_en(" ".join(query))
    assert _snippet(doc, tokens, limit=10_000) == _reference(lines, tokens)
