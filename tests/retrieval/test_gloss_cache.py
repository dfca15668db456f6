"""The glosses of each Korean text are mined once: a re-index mines only new texts, and the
pairs read back equal the pairs mined."""

from __future__ import annotations

from pipeline.retrieval.gloss_cache import cached_glosses
from pipeline.text.terms import mine_term_pairs

TEXTS = [
    "지식 증류(knowledge distillation)로 작은 모델을 학습합니다.",
    "미세 조정(Parameter-Efficient Fine-Tuning; PEFT) 기법을 씁니다.",
    "용어가 없는 문장입니다.",
]


def test_only_new_texts_are_mined(tmp_path):
    mined: list[str] = []

    def miner(text: str):
        mined.append(text)
        return mine_term_pairs(text)

    path = tmp_path / "bridge" / "glosses.sqlite"
    first = cached_glosses(path, miner)(TEXTS)
    assert first == [mine_term_pairs(t) for t in TEXTS]
    assert first[0] == [("지식 증류", "knowledge distillation")] and first[2] == []
    assert mined == TEXTS

    mined.clear()
    new = "확산 모델(diffusion model)을 증류합니다."
    again = cached_glosses(path, miner)([*TEXTS, new, TEXTS[0]])
    assert mined == [new]  # the others come from the cache, a repeated text once
    assert again == [*first, mine_term_pairs(new), first[0]]
