import logging

from click.testing import CliRunner

from pipeline.cli import main
from pipeline.stages.parse import parse_files
from pipeline.text.glossary import load_glossary, mine_glossary, parse_glossary, seed_glossary


def _seed_texts(seeds_dir):
    report = parse_files([seeds_dir])
    return [s.text for e in report.entries for s in e.sections]


def test_parse_glossary_comments_disabled_and_bad_lines(caplog):
    text = "# header\n확산 모델\tdiffusion model\n# 정렬\tAlignment\nbroken line\nabc\tdef\n\n미세 조정\tfine-tuning\n"
    with caplog.at_level(logging.WARNING):
        g = parse_glossary(text, "g.tsv")
    assert g.entries == {"확산 모델": "diffusion model", "미세 조정": "fine-tuning"}
    assert g.disabled == {"정렬"}
    assert "g.tsv:4" in caplog.text and "g.tsv:5" in caplog.text


def test_matches_prefers_longer_terms():
    g = parse_glossary("언어 모델\tlanguage model\n대형 언어 모델\tlarge language model\n확산\tdiffusion\n")
    assert g.matches("대형 언어 모델을 씁니다") == [("대형 언어 모델", "large language model")]
    both = g.matches("대형 언어 모델과 작은 언어 모델")
    assert ("언어 모델", "language model") in both and ("대형 언어 모델", "large language model") in both
    assert g.matches("관계없는 문장") == []


def test_mine_glossary_from_seeds(seeds_dir):
    mined = mine_glossary(_seed_texts(seeds_dir))
    assert 5 <= len(mined) <= 40
    assert mined["확산 모델"].lower() == "diffusion models"
    assert mined["미세 조정"].lower() == "fine-tuning"
    assert mined["멀티모달 대형 언어 모델"] == "Multimodal Large Language Models"
    for ko, en in mined.items():
        assert ko.strip() and en.strip() and "\t" not in en
        assert not any("\uac00" <= c <= "\ud7a3" for c in en)


def test_seed_never_overwrites_user_edits(tmp_path, seeds_dir):
    texts = _seed_texts(seeds_dir)
    path = tmp_path / "glossary.tsv"
    first = seed_glossary(path, texts)
    assert first.created and len(first.added) >= 5
    # the user edits one entry, disables another and adds their own
    lines = path.read_text(encoding="utf-8").splitlines()
    edited = [
        "확산 모델\tdiffusion model (edited)"
        if ln.startswith("확산 모델\t")
        else "# " + ln
        if ln.startswith("미세 조정\t")
        else ln
        for ln in lines
    ]
    edited.append("나만의 용어\tmy own term")
    path.write_text("\n".join(edited) + "\n", encoding="utf-8")
    again = seed_glossary(path, texts)
    assert again.added == [] and not again.created
    g = load_glossary(path)
    assert g.entries["확산 모델"] == "diffusion model (edited)"
    assert "미세 조정" not in g.entries and "미세 조정" in g.disabled
    assert g.entries["나만의 용어"] == "my own term"


def test_glossary_cli_shows_and_rebuilds(tmp_path, seeds_dir):
    runner = CliRunner()
    out = tmp_path / "out"
    assert runner.invoke(main, ["parse", str(seeds_dir), "--out", str(out)]).exit_code == 0
    res = runner.invoke(main, ["glossary", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "확산 모델\tDiffusion Models" in res.output
    path = out / "glossary.tsv"
    text = path.read_text(encoding="utf-8").replace("확산 모델\tDiffusion Models", "확산 모델\tDM")
    path.write_text(text, encoding="utf-8")
    res = runner.invoke(main, ["glossary", "--out", str(out), "--rebuild"])
    assert res.exit_code == 0, res.output
    assert "확산 모델\tDM" in res.output


def test_glossary_cli_without_parse_is_a_clean_error(tmp_path):
    res = CliRunner().invoke(main, ["glossary", "--out", str(tmp_path / "none")])
    assert res.exit_code == 3
    assert "digest parse" in res.output and "Traceback" not in res.output


# -- the miner is conservative: agreeing evidence, no contradiction -------------------------


def test_a_gloss_seen_once_binds_nothing():
    texts = ["가지치기(shearing)로 채널을 줄입니다.", "가지치기를 적용합니다.", "가지치기를 다시 합니다."]
    assert mine_glossary(texts) == {}  # one section glossed it: a slip of the digest's author


def test_a_pair_glossed_alike_in_two_sections_binds():
    texts = ["확산 모델(Diffusion Models)을 씁니다.", "확산 모델(diffusion model)로 생성합니다."]
    assert mine_glossary(texts) == {"확산 모델": "Diffusion Models"}  # roots agree: Model == models


def test_conflicting_glosses_bind_nothing():
    same_term = ["속성(annotation)을 붙입니다.", "속성(annotation) 레이블", "속성(attribute) 결합"]
    assert mine_glossary(same_term) == {}
    longer = [
        "가지치기(shearing)로 줄입니다.",
        "가지치기(shearing)를 씁니다.",
        "가우시안 가지치기(Gaussian pruning)를 합니다.",
    ]
    assert "가지치기" not in mine_glossary(longer)  # the longer gloss renders it otherwise
    agreeing = ["정렬(alignment) 향상", "정렬(Alignment)을 위해", "특성 정렬 모듈(feature alignment module)"]
    assert mine_glossary(agreeing)["정렬"].lower() == "alignment"


def test_the_korean_count_uses_the_word_boundary():
    # 속성 is glossed alike twice, but occurs as a word of its own only in those glosses'
    # sections; 연속성 (continuity) does not count for it
    texts = ["속성(attribute) 값", "속성(attribute) 키", "연속성 연속성 연속성"]
    assert mine_glossary(texts, min_occurrences=3) == {}
    assert mine_glossary(texts, min_occurrences=2) == {"속성": "attribute"}


def test_seeds_glossary_leaves_out_the_wrong_glosses(seeds_dir):
    mined = mine_glossary(_seed_texts(seeds_dir))
    for ko in ("가지치기", "비자동회귀", "속성", "랜덤 순서", "모달리티", "내성", "반대 의견", "적응"):
        assert ko not in mined, ko
