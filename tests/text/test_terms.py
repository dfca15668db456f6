from pipeline.text.terms import english_terms, mine_term_pairs


def test_english_terms_inside_korean_text():
    text = (
        "LoLDU는 Lower-Diag-Upper(LDU) 분해와 Output Length Score 𝑆𝐿와 LLaMA2-7B, GPT-4o 및 3D를 "
        "https://github.com/x/y에서 3.74% 사용합니다. loldu 재등장"
    )
    terms = english_terms(text)
    assert terms[:4] == ["LoLDU", "Lower-Diag-Upper", "LDU", "Output Length Score"]
    assert "LLaMA2-7B" in terms and "GPT-4o" in terms and "3D" in terms
    assert not any("github" in t or "3.74" in t for t in terms)
    assert [t.lower() for t in terms].count("loldu") == 1  # deduplicated


def test_english_terms_skip_every_url_the_extractor_finds():
    text = "코드는 github.com/org/repo에서, 페이지는 www.example.org/page 참고. MoE 사용"
    assert english_terms(text) == ["MoE"]


def test_mine_term_pairs_examples_from_the_brief():
    text = (
        "고품질 데이터를 결합한 최소 튜닝(Minimum Tuning) 기법. "
        "새로운 파라미터 효율적인 미세 조정(Parameter-Efficient Fine-Tuning; PEFT) 방법입니다."
    )
    pairs = mine_term_pairs(text)
    assert ("최소 튜닝", "Minimum Tuning") in pairs
    assert ("파라미터 효율적인 미세 조정", "Parameter-Efficient Fine-Tuning") in pairs


def test_mine_term_pairs_skips_junk():
    text = (
        "대규모 언어 모델(LLM)을 사용합니다. 데이터 처리(https://example.com) 결과(3.5%) "
        "설계(User-Centric Design)가 중요하며 정렬(Alignment)을 사용합니다."
    )
    pairs = dict(mine_term_pairs(text))
    assert "대규모 언어 모델" not in pairs  # lone acronym
    assert all("http" not in en and "%" not in en for en in pairs.values())
    assert "설계" not in pairs  # one Korean word glossed by a longer phrase
    assert pairs.get("정렬") == "Alignment"


def test_mine_term_pairs_keeps_duplicates_for_counting():
    text = "확산 모델(diffusion model)과 새로운 확산 모델(diffusion model)"
    assert mine_term_pairs(text).count(("확산 모델", "diffusion model")) == 2
