"""Numbers in text, Korean units included: what a source states, what a translation or an
answer says, and the quantities worth keeping as metadata.

One family of functions over one notion of "the same number": ``1,000`` == ``1000``,
``730만`` == 7,300,000 == "7.3 million", ``3.8억`` == 380M, ``1억 1,000만`` == "110
million", ``25억`` == "2.5B", ``1.2만`` == "12K" == 12,000, ``1억 2천만`` == 120,000,000,
``천`` == 1,000, ``2배`` == 2x == "twice" == "2 times"; ordinals (``2번째``) and digits
inside names (GPT-4, LLaMA2, 3D) are no quantities.

Public API (the ask / answer checks and the translation validator use these, nothing else):

- :class:`Quantity` and :func:`korean_quantities`: the numbers of a Korean text with their
  Korean units composed (``1억 1,000만`` is one quantity, 110,000,000), percent and
  multiplier marks kept;
- :func:`parse_quantity`: the value of one written quantity, Korean or English
  ("1억 1,000만", "110 million", "2.5B", "12K", "75.7%") -> float;
- :func:`renderings`: the values an English text may write for a value (110,000,000 ->
  110 for "110 million", 0.11 for "0.11 billion");
- :func:`source_numbers`: the numbers of a Korean text, each with every value it may
  be rendered as;
- :func:`output_numbers`: every value an English text states;
- :func:`missing_numbers`: the source's numbers a translation lacks;
- :func:`supported_numbers`: every value a set of Korean and English texts states;
- :func:`value_in_source`: is a reported value (a key result, a model size) supported;
- :func:`claimed_numbers`: the numbers an answer states, as written;
- :func:`extract_numbers`: quantities with their surrounding words (metadata).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from ..records import NumberMention
from .hangul import SYLLABLES
from .urls import blank_urls

# in English output a number may be glued to a name ("Mamba2" for "마마바2")
_OUT_NUM = re.compile(r"(?<![0-9.,])(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?")
_ORDINAL_AFTER = re.compile(r"^\s*(번째|위|등|차|회차|세대|번)")
EN_SCALE = re.compile(r"^\s*(thousand|k\b|million|m\b|billion|b\b|trillion|t\b)", re.IGNORECASE)
EN_SCALE_VALUE = {"thousand": 1e3, "k": 1e3, "million": 1e6, "m": 1e6, "billion": 1e9, "b": 1e9}
EN_SCALE_VALUE |= {"trillion": 1e12, "t": 1e12}
_SMALL = "zero one two three four five six seven eight nine ten eleven twelve"
_WORDS: dict[str, float] = {w: float(i) for i, w in enumerate(_SMALL.split())}
_WORDS |= {"single": 1, "double": 2, "twice": 2, "triple": 3, "half": 0.5, "dozen": 12, "hundred": 100}
_WORDS |= {"thousand": 1000, "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5}


@dataclass(frozen=True)
class Quantity:
    """One number of a Korean text, its Korean units composed: ``1억 1,000만`` is ONE
    quantity worth 110,000,000 (not 1 and 1,000 summed wrongly)."""

    written: str  # as in the text: "1억 1,000만", "75.7", "2천만"
    value: float  # 110000000.0, 75.7, 20000000.0
    start: int
    end: int
    coefficient: float | None = None  # a single unit group's number as written: 730 of 730만
    unit: str = ""  # what follows the number: "%", "%p", "x" (배, x, times) or ""

    def accepted(self) -> set[float]:
        """Every value a rendering may state: the value at any English scale (7,300,000 as
        "7.3 million" or "7.3M"), and a single group's number as written (3.8 of 3.8억).

        The latter because machine-translated digests put 억 where the paper says B: the
        seeds call MedMobile (3.8B parameters) "3.8억" and SHAKTI (2.5B) "2.5억", so a
        faithful "3.8B" must pass.  A compound (1억 1,000만) has no such reading."""
        out = renderings(self.value)
        if self.coefficient is not None:
            out.add(self.coefficient)
        return out


def renderings(value: float) -> set[float]:
    """``value`` and what an English text writes before a scale word: 110,000,000 -> 110,000
    (thousand), 110 (million), 0.11 (billion)."""
    return {value, value / 1e3, value / 1e6, value / 1e9, value / 1e12}


_KO_BIG = {"만": 1e4, "억": 1e8, "조": 1e12}
_KO_SMALL = {"천": 1e3, "백": 1e2, "십": 1e1}
_DIGITS = re.compile(r"(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?")
_HANGUL_SYLLABLE = re.compile(f"[{SYLLABLES}]")
# a quantity starts at digits, or at a bare 천/백/십 that begins a word (천만, 백만, 천 개)
_START = re.compile(rf"(?<![A-Za-z0-9.])\d|(?<![{SYLLABLES}A-Za-z0-9])[천백십]")
_UNIT_AFTER = re.compile(r"\s?(%p|%|배|[x×](?![A-Za-z0-9])|times\b|fold\b)")


def _group(text: str, pos: int) -> tuple[float, float | None, float | None, int] | None:
    """One group at ``pos``: ``[number][천|백|십][만|억|조]``.
    Returns (group value, its big unit or None, the number as written or None, end)."""
    m = _DIGITS.match(text, pos)
    number = to_float(m) if m else None
    at = m.end() if m else pos
    small = _KO_SMALL.get(text[at : at + 1])
    if small is not None:
        at += 1
    big = _KO_BIG.get(text[at : at + 1])
    if big is not None:
        at += 1
    if number is None and small is None:
        return None
    # a bare 천/백/십 is a number only as 천 alone ("천 개"), never inside a word (천천히, 백본)
    if number is None and big is None and (text[pos] != "천" or _HANGUL_SYLLABLE.match(text, at)):
        return None
    value = (number if number is not None else 1.0) * (small or 1.0) * (big or 1.0)
    return value, big, number, at


def korean_quantities(text: str) -> list[Quantity]:
    """The numbers of a Korean text, in order, Korean units composed.

    ``1억 1,000만`` -> 110,000,000; ``1억 2천만`` -> 120,000,000; ``1.2만`` -> 12,000;
    ``3억`` -> 300,000,000; ``25억`` -> 2,500,000,000; ``6백만`` -> 6,000,000; ``천`` ->
    1,000; ``55만8000`` -> 558,000.  Groups join while their units descend (만 after 억);
    a bare number joins only when glued to a unit (``55만8000``).  Ordinals (``2번째``,
    ``1위``) and digits inside URLs are skipped; ``%``, ``%p`` and ``배`` / ``x`` / ``times``
    after a number are kept in :attr:`Quantity.unit` (percent, multiplier).
    """
    clean = blank_urls(text or "")
    out: list[Quantity] = []
    pos = 0
    while True:
        m = _START.search(clean, pos)
        if m is None:
            return out
        start = m.start()
        first = _group(clean, start)
        if first is None:
            pos = start + 1
            continue
        total, last_big, number, end = first
        groups = 1
        while last_big is not None:
            gap = re.match(r"[ \t]*", clean[end:])
            nxt_at = end + (gap.end() if gap else 0)
            nxt = _group(clean, nxt_at)
            if nxt is None:
                break
            value, big, _, nxt_end = nxt
            if big is not None and big < last_big:
                total, last_big, end, groups = total + value, big, nxt_end, groups + 1
                continue
            if big is None and nxt_at == end and value < last_big:  # 55만8000: the remainder
                total, end, groups = total + value, nxt_end, groups + 1
            break
        written = clean[start:end]
        unit_m = _UNIT_AFTER.match(clean, end)
        unit = ""
        if unit_m:
            u = unit_m.group(1)
            unit = "%p" if u == "%p" else "%" if u == "%" else "x"
        if groups == 1 and first[1] is None and _ORDINAL_AFTER.match(clean[end:]):
            pos = end
            continue
        coefficient = number if groups == 1 and first[1] is not None else None
        out.append(Quantity(written, total, start, end, coefficient, unit))
        pos = end


def source_numbers(text: str) -> list[tuple[str, set[float]]]:
    """Numbers of a Korean text: ``(as written, accepted values)``.

    ``730만`` accepts 730, 7,300,000 and 7.3 (as in "7.3 million"); ``1억 1,000만`` accepts
    110,000,000, 110 (million) and 0.11 (billion); ordinals such as ``2번째`` or ``1위`` are
    skipped (they are often written as words: "second", "first").
    """
    return [(q.written, q.accepted()) for q in korean_quantities(text)]


def parse_quantity(text: str) -> float | None:
    """The value of ONE written quantity, or None when ``text`` holds no number or several.

    Korean units compose (``1억 1,000만`` -> 110,000,000.0, ``1.2만`` -> 12,000.0); English
    scales apply (``110 million`` -> 110,000,000.0, ``2.5B`` -> 2,500,000,000.0, ``12K``
    -> 12,000.0); a trailing ``%``, ``x`` or ``배`` is dropped (``75.7%`` -> 75.7).
    """
    text = (text or "").strip()
    if _HANGUL_SYLLABLE.search(text):
        found = korean_quantities(text)
        return found[0].value if len(found) == 1 else None
    nums = list(_OUT_NUM.finditer(text))
    if len(nums) != 1:
        return None
    m = nums[0]
    value = to_float(m)
    s = EN_SCALE.match(text[m.end() :])
    return value * EN_SCALE_VALUE[s.group(1).lower()] if s else value


def output_numbers(text: str) -> set[float]:
    """Every number in an English text, with scales applied both ways ("7.3 million" -> 7.3 and
    7,300,000) and small number words ("two", "twice")."""
    found: set[float] = set()
    for m in _OUT_NUM.finditer(text or ""):
        value = to_float(m)
        found.add(value)
        s = EN_SCALE.match(text[m.end() :])
        if s:
            found.add(value * EN_SCALE_VALUE[s.group(1).lower()])
    for word in re.findall(r"[A-Za-z]+", text or ""):
        w = word.lower()
        if w in _WORDS:
            found.add(float(_WORDS[w]))
    return found


def missing_numbers(source: str, translation: str) -> list[str]:
    """Numbers of ``source`` that the translation does not contain (``1,000`` == ``1000``)."""
    have = output_numbers(translation)
    missing: list[str] = []
    for written, accepted in source_numbers(source):
        if not any(same_number(a, h) for a in accepted for h in have) and written not in missing:
            missing.append(written)
    return missing


def to_float(m: re.Match[str]) -> float:
    whole = m.group(1).replace(",", "")
    frac = m.group(2)
    return float(f"{whole}.{frac}") if frac else float(whole)


def same_number(a: float, b: float) -> bool:
    """Equal up to float noise (``0.1 + 0.2`` == ``0.3``)."""
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))


_NUM_TOKEN = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?")


def supported_numbers(korean: Iterable[str], english: Iterable[str] = ()) -> set[float]:
    """Every number a source states, normalised: ``1,000`` == ``1000``; Korean units count
    both ways (``3.8억`` gives 3.8, 380 (million) and 380,000,000); English scales too."""
    out: set[float] = set()
    for text in korean:
        for _written, accepted in source_numbers(text):
            out |= accepted
        out |= output_numbers(text)
    for text in english:
        out |= output_numbers(text)
    return out


def is_supported(value: float, numbers: set[float]) -> bool:
    return any(same_number(value, n) for n in numbers)


def value_in_source(value: str, numbers: set[float], source_text: str) -> bool:
    """A reported value is supported when every number in it occurs in the source
    (``1,000``/``1000``, ``75.7%``/``75.7``); a value without digits must occur verbatim."""
    tokens = _NUM_TOKEN.findall(value or "")
    if not tokens:
        v = " ".join((value or "").split()).casefold()
        return bool(v) and v in " ".join(source_text.split()).casefold()
    for t in tokens:
        x = float(t.replace(",", ""))
        if not is_supported(x, numbers):
            return False
    return True


# an answer's numbers as written, with an optional percent sign
CLAIM = re.compile(r"(?<![A-Za-z0-9.])(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?(\s?%)?")


def claimed_numbers(text: str) -> list[tuple[str, float]]:
    """The numbers an English answer states: ``(as written, value)``, in order; digits of a
    name written with a hyphen (GPT-4, Qwen-2) are skipped."""
    out: list[tuple[str, float]] = []
    for m in CLAIM.finditer(text or ""):
        if re.match(r"[A-Za-z]-", text[max(0, m.start() - 2) : m.start()]):
            continue
        out.append((m.group(0).strip(), to_float(m)))
    return out


# -- quantities with their words (metadata) ----------------------------------------

_N = r"(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
_NUMBER = re.compile(
    rf"(?<![A-Za-z0-9._/])(?P<num>{_N}(?:\s?[-~–]\s?{_N}(?![-~–\d]))?)"
    r"(?P<unit>\s?%p|\s?%|\s?배|\s?[x×](?![A-Za-z0-9])"
    rf"|\s?[천백십]?(?:조|억|만)(?:\s?{_N}[천백십]?(?:억|만))*(?:{_N}(?![\d.,]))?|\s?천"
    r"|(?:[BMKT]|bn)(?![A-Za-z0-9]))?"
)
_SIZE_UNITS = {"B", "M", "K", "T", "bn", "억", "만", "천"}
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n")
_CONTEXT_WORDS = 6


def _kind(unit: str) -> str:
    u = unit.strip()
    if u in ("%", "%p"):
        return "percent"
    if u in ("배", "x", "×"):
        return "multiplier"
    if u in _SIZE_UNITS or any(c in u for c in "조억만천"):
        return "size"
    return "number"


_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")


def _blank_urls_and_dates(text: str) -> str:
    """URLs and ISO dates hold digits that are no quantities."""
    return _DATE.sub(lambda m: " " * len(m.group(0)), blank_urls(text))


def _is_name_part(text: str, start: int, end: int, unit: str) -> bool:
    """True for digits that belong to a name: GPT-4, v2, LLaMA2, 3D, phi-3-mini."""
    before = text[start - 1] if start > 0 else " "
    after = text[end] if end < len(text) else " "
    if before.isascii() and (before.isalnum() or before in "._/"):
        return True
    if before == "-" and unit.strip() not in _SIZE_UNITS:
        # GPT-4, phi-3 are names; 10-20배 is a range; LLaMA2-7B keeps its size
        prev = text[start - 2] if start > 1 else " "
        return prev.isascii() and prev.isalpha()
    return after.isascii() and (after.isalnum() or after == "_")


def _context(text: str, start: int, end: int) -> str:
    """The words around ``text[start:end]``, within its sentence."""
    lo, hi = 0, len(text)
    for m in _SENTENCE_END.finditer(text):
        if m.end() <= start:
            lo = m.end()
        elif m.start() >= end:
            hi = m.start()
            break
    words = list(re.finditer(r"\S+", text[lo:hi]))
    at = next((i for i, w in enumerate(words) if w.end() + lo > start), 0)
    window = words[max(0, at - _CONTEXT_WORDS) : at + _CONTEXT_WORDS + 1]
    return " ".join(w.group(0) for w in window)


def extract_numbers(text: str) -> list[NumberMention]:
    """Every quantity in ``text`` with its surrounding words: 75.7%, 3.8B, 12,000, 2배, 1.5x..."""
    clean = _blank_urls_and_dates(text or "")
    out: list[NumberMention] = []
    seen: set[tuple[str, str]] = set()
    for m in _NUMBER.finditer(clean):
        unit = m.group("unit") or ""
        if _is_name_part(clean, m.start(), m.end(), unit):
            continue
        value = m.group(0).strip()
        ctx = _context(clean, m.start(), m.end())
        if (value, ctx) in seen:
            continue
        seen.add((value, ctx))
        out.append(NumberMention(value=value, context=ctx, kind=_kind(unit)))
    return out
