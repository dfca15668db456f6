"""The fixed topic taxonomy of the knowledge base.

``Topic`` is an Enum so the JSON schema sent to the LLM lists the allowed values,
and so search filters and newsletters can rely on a closed set.  Values are stable
slugs (they are stored in ``metadata.jsonl``); ``label()`` gives the display name.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class Topic(StrEnum):
    LANGUAGE_MODELS = "language_models"
    MULTIMODAL = "multimodal"
    VISION = "vision"
    VIDEO = "video"
    AUDIO_SPEECH = "audio_speech"
    AGENTS_ROBOTICS = "agents_robotics"
    REINFORCEMENT_LEARNING = "reinforcement_learning"
    EFFICIENCY = "efficiency"
    SAFETY_ALIGNMENT = "safety_alignment"
    EVALUATION_BENCHMARKS = "evaluation_benchmarks"
    THREE_D = "3d"
    SCIENCE_MEDICINE = "science_medicine"
    GENERATIVE_IMAGE = "generative_image"
    DATA_DATASETS = "data_datasets"
    THEORY_INTERPRETABILITY = "theory_interpretability"
    OTHER = "other"


_INFO: dict[Topic, tuple[str, str]] = {
    Topic.LANGUAGE_MODELS: (
        "Language models",
        "text-only LLMs: pre-training, instruction tuning, reasoning, long context, code, "
        "retrieval-augmented generation",
    ),
    Topic.MULTIMODAL: (
        "Multimodal",
        "models that combine modalities, e.g. vision-language models (MLLMs, VLMs), "
        "text-image understanding, any-to-any models",
    ),
    Topic.VISION: (
        "Vision",
        "image understanding: recognition, detection, segmentation, depth, visual representation learning",
    ),
    Topic.VIDEO: ("Video", "video understanding and video generation or editing"),
    Topic.AUDIO_SPEECH: ("Audio and speech", "speech recognition and synthesis, music, sound, audio models"),
    Topic.AGENTS_ROBOTICS: (
        "Agents and robotics",
        "LLM agents, tool use, GUI and web agents, embodied AI, robot learning and control",
    ),
    Topic.REINFORCEMENT_LEARNING: (
        "Reinforcement learning",
        "RL algorithms, reward models, RLHF and preference optimisation as the main contribution",
    ),
    Topic.EFFICIENCY: (
        "Efficiency",
        "faster or cheaper training and inference: quantisation, pruning, distillation, "
        "parameter-efficient fine-tuning, KV cache, hardware",
    ),
    Topic.SAFETY_ALIGNMENT: (
        "Safety and alignment",
        "alignment with human values, jailbreaks, red teaming, hallucination, privacy, fairness",
    ),
    Topic.EVALUATION_BENCHMARKS: (
        "Evaluation and benchmarks",
        "new benchmarks, evaluation methods and metrics, leaderboards, model comparisons",
    ),
    Topic.THREE_D: ("3D", "3D reconstruction and generation, NeRF, Gaussian splatting, meshes, 4D, scenes"),
    Topic.SCIENCE_MEDICINE: (
        "Science and medicine",
        "AI for medicine, biology, chemistry, materials, physics, mathematics, climate",
    ),
    Topic.GENERATIVE_IMAGE: (
        "Generative image models",
        "text-to-image and image editing with diffusion, flow or autoregressive generators",
    ),
    Topic.DATA_DATASETS: (
        "Data and datasets",
        "dataset construction, synthetic data, data curation, filtering and mixing",
    ),
    Topic.THEORY_INTERPRETABILITY: (
        "Theory and interpretability",
        "theoretical analysis, scaling laws, mechanistic interpretability, probing",
    ),
    Topic.OTHER: ("Other", "anything that fits none of the topics above"),
}


def label(topic: Topic | str | None) -> str:
    """Display name of a topic value ("3d" -> "3D"); unknown values are returned as given."""
    if topic is None:
        return ""
    try:
        return _INFO[Topic(topic)][0]
    except ValueError:
        return str(topic)


def describe() -> str:
    """One line per topic (``value``: label — scope), for the enrich prompt."""
    return "\n".join(f"- `{t.value}`: {name} — {scope}" for t, (name, scope) in _INFO.items())


def parse_topic(value: str) -> Topic:
    """A topic from its value, label or enum name, case-insensitively (for CLI filters)."""
    key = value.strip().casefold().replace("-", "_").replace(" ", "_")
    for t, (name, _) in _INFO.items():
        if key in (t.value, t.name.casefold(), name.casefold().replace(" ", "_")):
            return t
    raise ValueError(f"unknown topic {value!r}; choose one of: {', '.join(t.value for t in Topic)}")


def hit_facts(h: Any) -> list[str]:
    """A search hit's facts as shown to a reader (terminal, Markdown, the serve page): date,
    votes, topic and match."""
    facts = [str(h.date)] if h.date else []
    if h.votes is not None:
        facts.append(f"{h.votes} vote" + ("" if h.votes == 1 else "s"))
    if h.topic:
        facts.append(label(h.topic))
    if h.relevance is not None:
        facts.append(f"match {round(h.relevance * 100)}%")
    return facts
