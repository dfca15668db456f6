"""English words: the one stemmer (BM25), roots, and "is this term used" for the glossary."""

from __future__ import annotations

import pytest

from pipeline.text.english import root, stem, tokenize_en, uses_term


def test_the_bm25_stemmer_is_unchanged() -> None:
    assert tokenize_en("The agents improved 12,000 models") == ["agent", "improv", "12000", "model"]
    assert stem("studies") == "study" and stem("running") == "runn" and stem("classes") == "class"


@pytest.mark.parametrize(
    "forms",
    [
        ("alignment", "aligned", "align", "aligning", "alignments"),
        ("pruning", "pruned", "prune", "prunes"),
        ("quantization", "quantized"),
        ("distillation", "distilled", "distill"),
        ("ensembling", "ensemble", "ensembles"),
        ("models", "model"),
    ],
)
def test_forms_of_a_word_share_a_root(forms: tuple[str, ...]) -> None:
    assert len({root(f) for f in forms}) == 1, {f: root(f) for f in forms}


@pytest.mark.parametrize(
    ("term", "text", "used"),
    [
        ("Alignment", "pixel-aligned Gaussian primitives", True),
        ("pruning", "tokens are pruned and merged", True),
        ("Diffusion Models", "a latent diffusion model", True),
        ("Large Language Models", "large language models (LLMs)", True),
        ("Vision-Language Model", "vision language models", True),
        ("Theorem-Proving", "theorem proving", True),
        ("Adaptation", "an adaptive retriever", False),  # another word
        ("shearing", "channel pruning", False),
        ("Diffusion Models", "models of diffusion", False),  # word order kept
        ("Knowledge Distillation", "knowledge is distilled", False),  # not next to each other
    ],
)
def test_uses_term(term: str, text: str, used: bool) -> None:
    assert uses_term(term, text) is used
