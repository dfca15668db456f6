"""The glosses of each Korean text are mined once: a re-index mines only new texts, and the
pairs read back equal the pairs mined."""

from __future__ import annotations

from pipeline.retrieval.gloss_cache import cached_glosses, gloss_key
from pipeline.text.terms import mine_term_pairs

TEXTS = [
    "지식 증류(knowledge distillation)로 작은 모델을 학습합니다.",
    "미세 조정(Parameter-Efficient Fine-Tuning; PEFT) 기법을 씁니다.",
    "용어가 없는 문장입니다.",
]


def _glosses(path, miner, texts):
    asked: list[int] = []

    def texts_of(positions):
        asked.extend(positions)
        return [texts[p] for p in positions]

    return cached_glosses(path, miner)([gloss_key(t) for t in texts], texts_of), asked


def test_only_new_texts_are_mined_and_only_they_are_read(tmp_path):
    mined: list[str] = []

    def miner(text: str):
        mined.append(text)
        return mine_term_pairs(text)

    path = tmp_path / "bridge" / "glosses.sqlite"
    first, asked = _glosses(path, miner, TEXTS)
    assert first == [mine_term_pairs(t) for t in TEXTS]
    assert first[0] == [("지식 증류", "knowledge distillation")] and first[2] == []
    assert mined == TEXTS and asked == [0, 1, 2]

    mined.clear()
    new = "확산 모델(diffusion model)을 증류합니다."
    again, asked = _glosses(path, miner, [*TEXTS, new, TEXTS[0]])
    assert mined == [new] and asked == [3]  # the others come from the cache, unread
    assert again == [*first, mine_term_pairs(new), first[0]]
