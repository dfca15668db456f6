"""The mock writes sense from English: extractive TL;DRs, key results, names, intros and
answers, each a piece of the text it was given (deterministic; nothing invented)."""

from __future__ import annotations

import json

import pytest

from pipeline.llm.mock.extractive import EnglishPaper, sentences, shorten
from pipeline.llm.mock.tasks import intro_reply, metadata_reply, qa_reply
from pipeline.stages.enrich.schema import LLMMetadata

PAPER = """Title: MedMobile: A mobile-sized language model with expert-level clinical capabilities

- What's New: MedMobile is a mobile-sized language model with 3.8B parameters that can run even on mobile devices, offering expert-level clinical capabilities. It approaches models 100 times its size.
- Technical Details: MedMobile was developed by fine-tuning phi-3-mini on the MedSynth dataset, using Chain-of-Thought (CoT) and ensembling.
- Performance Highlights: MedMobile achieved 75.7% accuracy on MedQA, close to UltraMedical 8B. It is 2x faster than GPT-4 on a phone."""


def test_sentences_keep_abbreviations_and_decimals() -> None:
    assert sentences("It scored 75.7% (e.g. on MedQA). o1 wins. Done") == [
        "It scored 75.7% (e.g. on MedQA).",
        "o1 wins.",
        "Done",
    ]


def test_shorten_cuts_at_a_clause_boundary() -> None:
    long = (
        "MuVi is an innovative framework for generating music that matches the visual content of videos, "
        "effectively addressing the problems of visual semantic alignment and rhythmic synchronization "
        "across many diverse genres and styles of music and video."
    )
    short = shorten(long)
    assert (
        short
        == "MuVi is an innovative framework for generating music that matches the visual content of videos."
    )
    assert shorten("Short and sweet") == "Short and sweet."


@pytest.mark.parametrize(
    ("sentence", "want"),
    [
        # a dependent clause is not left dangling ("whereas ...")
        (
            "UniReal is a unified framework for tackling diverse image generation and editing tasks: "
            "whereas existing solutions take a different approach for each task, UniReal treats image "
            "tasks as discontinuous video generation to unify them into a single general format.",
            "UniReal is a unified framework for tackling diverse image generation and editing tasks.",
        ),
        # no clause break: before the last "and", not mid-phrase ("... the text condition through.")
        (
            "STIV is a new framework for text- and image-conditioned video generation that integrates the "
            "image condition into a Diffusion Transformer (DiT) through frame replacement and applies the "
            "text condition through joint image-text classifier-free guidance.",
            "STIV is a new framework for text- and image-conditioned video generation that integrates the "
            "image condition into a Diffusion Transformer (DiT) through frame replacement.",
        ),
        # a comma inside one phrase ("in complex, long videos") is no clause boundary
        (
            "SAM2Long proposes a method that improves the video segmentation capability of the existing "
            "SAM 2 by introducing a training-free memory tree structure, enabling more effective object "
            "segmentation in complex, long videos.",
            "SAM2Long proposes a method that improves the video segmentation capability of the existing "
            "SAM 2 by introducing a training-free memory tree structure.",
        ),
        # an apposition is no clause: the cut keeps the verb
        (
            "Layout generation, the key to realizing automated graphic design, requires arranging the "
            "positions and sizes of various multimodal design elements in a manner that is visually "
            "pleasing and adheres to constraints.",
            "Layout generation, the key to realizing automated graphic design, requires arranging the "
            "positions and sizes of various multimodal design elements in a manner that is visually pleasing.",
        ),
        # no break at all: a word cut that does not end on a function word
        (" ".join(["word"] * 29 + ["of", "the", "end", "here"]), " ".join(["word"] * 29) + "."),
    ],
)
def test_shorten_keeps_a_sentence(sentence: str, want: str) -> None:
    assert shorten(sentence) == want
    assert len(want.split()) <= 30


def test_english_paper_fields_come_from_the_text() -> None:
    paper = EnglishPaper.parse(PAPER)
    assert paper is not None and paper.name == "MedMobile"
    assert paper.tldr().startswith("MedMobile is a mobile-sized language model with 3.8B parameters")
    results = paper.key_results()
    assert results[0] == {
        "metric": "accuracy on MedQA",
        "value": "75.7%",
        "context": "MedMobile achieved 75.7% accuracy on MedQA",
    }
    assert (results[1]["value"], results[1]["metric"]) == ("2x", "speed")  # "is 2x faster"
    assert all(r["value"] in r["context"] and r["context"] in PAPER for r in results)
    assert paper.model_sizes() == ["3.8B", "8B"]
    assert paper.datasets() == ["MedSynth"] and paper.benchmarks() == ["MedQA"]
    assert paper.methods()[0] == "MedMobile" and "Chain-of-Thought" in paper.methods()
    assert "accuracy" in paper.metrics()
    assert EnglishPaper.parse(PAPER.replace("clinical capabilities.", "임상 능력.")) is None  # Korean left


def test_metadata_reply_is_extractive_for_english_and_valid() -> None:
    schema = LLMMetadata.model_json_schema()
    data = LLMMetadata.model_validate(
        json.loads(metadata_reply(f'<paper id="x">\n{PAPER}\n</paper>', schema))
    )
    assert data.tldr and data.tldr in PAPER.replace("\n", " ") + "."
    assert "is presented, with results reported for" not in data.tldr
    assert [k.value for k in data.key_results][:1] == ["75.7%"]
    assert data.topic.value != "other"


def test_intro_names_the_top_papers_from_their_tldrs() -> None:
    issue = (
        '<paper votes="70" topic="Video"><title>Movie Gen: A Cast of Media Foundation Models</title>'
        "<summary>Movie Gen presents media foundation models that generate 1080p videos.</summary></paper>\n"
        '<paper votes="60" topic="Evaluation"><title>MixEval-X: Any-to-Any Evaluations</title>'
        "<summary>This paper standardises evaluations across modalities.</summary></paper>\n"
        '<paper votes="50" topic="Other"><title>Parrot: Multilingual Visual Instruction Tuning</title>'
        "<summary>Advances in MLLMs mark a step forward.</summary></paper>\n"
        '<paper votes="40" topic="Other"><title>Fourth</title><summary>Not picked.</summary></paper>'
    )
    assert intro_reply(issue) == (
        "Movie Gen presents media foundation models that generate 1080p videos. "
        "MixEval-X standardises evaluations across modalities. "
        "Parrot: Advances in MLLMs mark a step forward."
    )


def test_answer_is_the_best_sentence_with_its_citation() -> None:
    user = (
        '<source id="2410.09019">\nPaper: MedMobile: A mobile-sized model (2024-10-21).\n'
        + PAPER.split("\n", 2)[2].replace("- ", "")
        + '\n</source>\n\n<source id="2410.13720">\nPaper: Movie Gen: A Cast (2024-10-21).\n'
        "What's New: Movie Gen presents media foundation models.\n</source>\n\n"
    )
    answer = qa_reply(user + "<question>Which paper runs a clinical model on mobile devices?</question>", "")
    assert answer == (
        "MedMobile is a mobile-sized language model with 3.8B parameters that can run even on mobile "
        "devices, offering expert-level clinical capabilities. [2410.09019]"
    )
    named = qa_reply(user + "<question>How fast is it on a phone?</question>", "")
    assert named == "MedMobile: It is 2x faster than GPT-4 on a phone. [2410.09019]"  # names its paper
    refusal = qa_reply(user + "<question>What is the capital of France?</question>", "")
    assert refusal == "I cannot answer this question from the digests."


def test_result_context_does_not_end_on_a_preposition() -> None:
    from pipeline.llm.mock.results import clause

    sent = (
        "The MobileVD model is 523x more efficient (1817.2 vs. 4.34 TFLOPs) at the cost of a slight "
        "drop in quality (FVD 149 vs. 171)."
    )
    at = sent.index("523x")
    assert clause(sent, at, at + 4) == "The MobileVD model is 523x more efficient (1817.2 vs. 4.34 TFLOPs)"
