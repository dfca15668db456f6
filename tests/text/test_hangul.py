"""One Hangul class for every rule.  Before it there were three ranges: syllables only
(the translation check's list of what was left), syllables + jamo + compatibility jamo
(the newsletter, parse's URL end) and those + Jamo Extended-A/B (the rest); none had the
half-width letters."""

from __future__ import annotations

import pytest

from pipeline.records import Entry, Section, SectionTranslation
from pipeline.text.hangul import hangul_ratio, hangul_runs, has_hangul

JAMO = "\u1100\u1161"  # conjoining ᄀ + ᅡ (decomposed 가)
COMPAT = "ㅋㅋ"  # compatibility jamo, as typed
EXT_A = "\ua960"  # Jamo Extended-A
EXT_B = "\ud7b0"  # Jamo Extended-B
HALFWIDTH = "\uffa1\uffc2"  # half-width ㄱ ㅏ


def test_has_hangul_and_ratio():
    assert has_hangul("LoLDU는 방법")
    assert not has_hangul("LoLDU is a method, 3.74%")
    assert not has_hangul("") and not has_hangul(None)
    assert hangul_ratio("abc") == 0.0
    assert hangul_ratio("가나") == 1.0
    assert 0.4 < hangul_ratio("ab가나") < 0.6


@pytest.mark.parametrize("letters", [JAMO, COMPAT, EXT_A, EXT_B, HALFWIDTH])
def test_every_kind_of_hangul_letter_counts(letters: str) -> None:
    text = f"an English sentence with {letters} left in it"
    assert has_hangul(text)
    assert hangul_runs(text) == [letters]
    assert hangul_ratio(letters) == 1.0


def test_symbols_and_lookalikes_are_not_hangul() -> None:
    assert not has_hangul("㉠ item, ㈜ company, ‹segment›, 中文, 日本語 カナ")


def test_translation_check_names_the_jamo_left_untranslated() -> None:
    """The check listed syllables only: "ㅋㅋ" was flagged with an empty list."""
    from pipeline.stages.translate.validate import validate

    (problem,) = validate("ㅋㅋ 좋아요", "ㅋㅋ good")
    assert problem == "Korean text left untranslated: ㅋㅋ"


@pytest.mark.parametrize("letters", [EXT_A, HALFWIDTH])
def test_newsletter_treats_any_hangul_left_as_pending(letters: str) -> None:
    """The newsletter's own class lacked these blocks: such a "translation" was shown as English."""
    from pipeline.stages.newsletter.model import build_paper

    entry = Entry(
        id="1", title="T", source_file="f", source_line=1, sections=[Section(text="한국어", line=2)]
    )
    tr = SectionTranslation(entry_id="1", index=0, source_hash="h", text=f"half {letters}", origin="model")
    paper = build_paper(entry, [tr], None)
    assert paper.translation_pending and paper.summary is None
