"""Deterministic "translation" for the mock: a small ko->en lexicon, else romanization
(``romanize.py``).  Its only promise: Hangul-free, stable, number-preserving output that
applies the glossary."""

from __future__ import annotations

import re

from ...text.hangul import HANGUL_RUN
from .romanize import romanize

# Common words of the digests (stems, without particles).
LEXICON: dict[str, str] = {
    "이": "this",
    "이는": "this",
    "및": "and",
    "통해": "through",
    "수": "can",
    "모델": "model",
    "다양한": "various",
    "이미지": "image",
    "새로운": "new",
    "언어": "language",
    "텍스트": "text",
    "있는": "that",
    "생성": "generation",
    "사용하여": "using",
    "데이터": "data",
    "특히": "in particular",
    "있습니다": "is",
    "비디오": "video",
    "위해": "to",
    "개": "items",
    "학습": "learning",
    "높은": "high",
    "위한": "for",
    "시각적": "visual",
    "기존": "existing",
    "훈련": "training",
    "기반": "based",
    "더": "more",
    "또한": "also",
    "성능": "performance",
    "대한": "on",
    "같은": "such as",
    "가지": "kinds",
    "다중": "multi",
    "활용하여": "leveraging",
    "추론": "reasoning",
    "대형": "large",
    "사전": "pre",
    "멀티모달": "multimodal",
    "이를": "this",
    "두": "two",
    "평가": "evaluation",
    "제공합니다": "provides",
    "여러": "several",
    "사용자": "user",
    "방법": "method",
    "합니다": "does",
    "벤치마크": "benchmark",
    "시각": "vision",
    "능력": "capability",
    "보여줍니다": "shows",
    "확산": "diffusion",
    "보였습니다": "showed",
    "뛰어난": "outstanding",
    "각": "each",
    "대규모": "large-scale",
    "제안합니다": "proposes",
    "합성": "synthesis",
    "우수한": "superior",
    "정렬": "alignment",
    "비해": "compared to",
    "연구": "study",
    "이러한": "such",
    "작업": "task",
    "접근": "approach",
    "향상": "improvement",
    "정보": "information",
    "효과적으로": "effectively",
    "단일": "single",
    "미세": "fine",
    "효율성": "efficiency",
    "크게": "greatly",
    "결과": "results",
    "실제": "real",
    "생성합니다": "generates",
    "최신": "latest",
    "이해": "understanding",
    "문제": "problem",
    "가능하게": "enabling",
    "정확도": "accuracy",
    "간의": "between",
    "토큰": "token",
    "실험": "experiment",
    "잘": "well",
    "데이터셋": "dataset",
    "인간": "human",
    "복잡한": "complex",
    "등": "etc.",
    "기능": "feature",
    "없는": "without",
    "모달": "modal",
    "소개합니다": "introduces",
    "없이": "without",
    "긴": "long",
    "전략": "strategy",
    "입력": "input",
    "효율적인": "efficient",
    "음성": "speech",
    "모션": "motion",
    "주의": "attention",
    "과정": "process",
    "세": "three",
    "다른": "other",
    "포함합니다": "includes",
    "에이전트": "agent",
    "동적": "dynamic",
    "제시합니다": "presents",
    "프레임워크": "framework",
    "논문": "paper",
    "가능한": "possible",
    "가능성": "possibility",
    "최초의": "first",
    "보상": "reward",
    "공간": "space",
    "구조": "structure",
    "객체": "object",
    "고품질": "high-quality",
    "품질": "quality",
    "비전": "vision",
    "오디오": "audio",
    "최적화": "optimization",
    "최첨단": "state-of-the-art",
    "시간": "time",
    "메모리": "memory",
    "지식": "knowledge",
    "다국어": "multilingual",
    "약": "about",
    "파라미터": "parameters",
    "전문가": "expert",
    "강력한": "powerful",
    "선호": "preference",
    "장면": "scene",
    "제어": "control",
    "데이터셋의": "of the dataset",
    "문서": "document",
    "강화": "reinforcement",
    "평균": "average",
    "손실": "loss",
    "인코더": "encoder",
    "디코더": "decoder",
    "증류": "distillation",
    "학생": "student",
    "교사": "teacher",
    "모바일": "mobile",
    "편집": "editing",
    "스타일": "style",
    "혁신적인": "innovative",
    "방식": "way",
    "연구진": "researchers",
    "방법들": "methods",
    "기법": "technique",
    "분해": "decomposition",
    "행렬": "matrix",
    "튜닝": "tuning",
    "출력": "output",
    "샘플": "samples",
    "길이": "length",
    "효율": "efficiency",
    "점수": "score",
    "검색": "retrieval",
    "질문": "question",
    "답변": "answer",
    "코드": "code",
    "수학": "math",
    "로봇": "robot",
    "의료": "medical",
    "안전": "safety",
    "그래프": "graph",
    "설명": "explanation",
    "최대": "up to",
    "배": "times",
    "향상시킵니다": "improves",
    "달성했습니다": "achieved",
    "기록했습니다": "recorded",
    "나타났습니다": "was shown",
    "보였으며": "showed",
    "주요": "main",
    "자동": "automatic",
    "영향": "impact",
    "중요한": "important",
}

# Particles and endings stripped (longest first) before a lexicon lookup.
_SUFFIXES = sorted(
    [
        "으로부터",
        "에서는",
        "에서의",
        "으로서",
        "으로써",
        "에게서",
        "이라는",
        "라는",
        "으로",
        "에서",
        "에게",
        "까지",
        "부터",
        "보다",
        "처럼",
        "과의",
        "와의",
        "들을",
        "들이",
        "들은",
        "들의",
        "들과",
        "을",
        "를",
        "이",
        "가",
        "은",
        "는",
        "의",
        "에",
        "로",
        "와",
        "과",
        "도",
        "만",
        "들",
    ],
    key=len,
    reverse=True,
)


def translate_word(word: str) -> str:
    if word in LEXICON:
        return LEXICON[word]
    for suf in _SUFFIXES:
        if word.endswith(suf) and len(word) > len(suf):
            stem = word[: -len(suf)]
            if stem in LEXICON:
                return LEXICON[stem]
            if len(stem) >= 2 and stem.endswith("들") and stem[:-1] in LEXICON:
                return LEXICON[stem[:-1]] + "s"
    # unknown: romanize the word without its particle
    for suf in _SUFFIXES:
        if word.endswith(suf) and len(word) - len(suf) >= 2:
            return romanize(word[: -len(suf)])
    return romanize(word)


def _sub_word(m: re.Match[str]) -> str:
    word, start, text = m.group(0), m.start(), m.string
    if word in _SUFFIXES and start > 0 and not text[start - 1].isspace():
        return ""  # particle glued to a Latin term or number: "LLM에서", "7B의"
    english = translate_word(word)
    if start > 0 and text[start - 1].isalnum():
        english = " " + english
    return english


def parse_glossary(block: str) -> list[tuple[str, str]]:
    pairs = []
    for line in (block or "").splitlines():
        if "=>" in line:
            ko, en = (p.strip() for p in line.split("=>", 1))
            if ko and en:
                pairs.append((ko, en))
    return sorted(pairs, key=lambda p: len(p[0]), reverse=True)


def mock_translate(text: str, glossary: list[tuple[str, str]] | None = None) -> str:
    """Hangul-free English-ish text; numbers, Latin terms and glossary terms kept exactly."""
    out = text
    for ko, en in glossary or ():
        out = out.replace(ko, f"\x00{en}\x01")
    # Glossary English has no Hangul, so the word pass below leaves it alone; the
    # \x00/\x01 markers make a particle glued to it count as glued.
    result = HANGUL_RUN.sub(_sub_word, out).replace("\x00", "").replace("\x01", "")
    return re.sub(r"[ \t]{2,}", " ", result)
