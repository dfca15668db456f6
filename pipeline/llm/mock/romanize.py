"""Romanization of Hangul for the mock's "translations".

It follows the Revised Romanization of Korean letter by letter (jamo
decomposition of each syllable), without the sound-change rules; good enough for a
test double whose only promise is Hangul-free, stable, number-preserving output.
"""

from __future__ import annotations

from ...text.hangul import HANGUL

_INITIALS = [
    "g",
    "kk",
    "n",
    "d",
    "tt",
    "r",
    "m",
    "b",
    "pp",
    "s",
    "ss",
    "",
    "j",
    "jj",
    "ch",
    "k",
    "t",
    "p",
    "h",
]
_VOWELS = [
    "a",
    "ae",
    "ya",
    "yae",
    "eo",
    "e",
    "yeo",
    "ye",
    "o",
    "wa",
    "wae",
    "oe",
    "yo",
    "u",
    "wo",
    "we",
    "wi",
    "yu",
    "eu",
    "ui",
    "i",
]
_FINALS = [
    "",
    "k",
    "k",
    "k",
    "n",
    "n",
    "n",
    "t",
    "l",
    "k",
    "m",
    "l",
    "l",
    "l",
    "p",
    "l",
    "m",
    "p",
    "p",
    "t",
    "t",
    "ng",
    "t",
    "t",
    "k",
    "t",
    "p",
    "t",
]
# Hangul compatibility jamo (U+3131..U+3163) standing alone
_COMPAT = dict(
    zip(
        "ㄱㄲㄳㄴㄵㄶㄷㄸㄹㄺㄻㄼㄽㄾㄿㅀㅁㅂㅃㅄㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ"
        "ㅏㅐㅑㅒㅓㅔㅕㅖㅗㅘㅙㅚㅛㅜㅝㅞㅟㅠㅡㅢㅣ",
        [
            "g",
            "kk",
            "gs",
            "n",
            "nj",
            "nh",
            "d",
            "tt",
            "r",
            "lg",
            "lm",
            "lb",
            "ls",
            "lt",
            "lp",
            "lh",
            "m",
            "b",
            "pp",
            "bs",
            "s",
            "ss",
            "ng",
            "j",
            "jj",
            "ch",
            "k",
            "t",
            "p",
            "h",
        ]
        + _VOWELS,
        strict=True,
    )
)


def romanize(word: str) -> str:
    out = []
    for ch in word:
        code = ord(ch) - 0xAC00
        if 0 <= code < 11172:
            out.append(_INITIALS[code // 588] + _VOWELS[(code % 588) // 28] + _FINALS[code % 28])
        elif ch in _COMPAT:
            out.append(_COMPAT[ch])
        elif HANGUL.match(ch):
            continue  # archaic jamo: drop
        else:
            out.append(ch)
    return "".join(out)
