"""Key results of one English sentence, for the mock's extractive enrich
(``extractive.py``): a number with its unit, the metric words next to it, and the clause
around it; and the word lists both use to tell names, nouns and function words apart."""

from __future__ import annotations

import re

# a name: capitalised / mixed-case / with digits or hyphens ("LoLDU", "LongWriter-6K", "GPT-4o")
NAME = r"[A-Z][A-Za-z0-9]*(?:[-.][A-Za-z0-9]+)*(?:\s(?:[A-Z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*|\d[\w.-]*))*"
NAME_RE = re.compile(rf"(?<![\w-]){NAME}")
# a result: a number with its unit (percent, multiplier, points); sizes are model_sizes
VALUE = re.compile(
    r"(?<![\w.])(?P<value>(?:\d+(?:\.\d+)?\s?[-–~]\s?)?\d+(?:,\d{3})*(?:\.\d+)?"
    r"(?:\s?%|\s?(?:x|×)(?![A-Za-z0-9])|\s(?:times|-?fold)\b|-fold\b|\s(?:points|pp|percentage points)\b)"
    r"(?:\s(?:to|-|–)\s\d+(?:\.\d+)?\s?%)?)"
)

METRIC_WORDS = (
    "top-1 accuracy",
    "top-5 accuracy",
    "accuracy",
    "success rate",
    "win rate",
    "pass@1",
    "f1 score",
    "f1",
    "bleu",
    "rouge",
    "fid",
    "clip score",
    "psnr",
    "ssim",
    "lpips",
    "perplexity",
    "word error rate",
    "wer",
    "map",
    "iou",
    "latency",
    "throughput",
    "speedup",
    "recall",
    "precision",
    "error rate",
    "exact match",
    "elo",
)

STOP = frozenset(
    """
a an the of for and or to in on with by from its their this that these those our new various
diverse different multiple several effective efficient existing high-quality high low better
more most such both each all other
""".split()  # noqa: SIM905
)

NOT_NAMES = frozenset(
    """
This These The It Its In Using Through Experimental Compared Based When While With As For
However Also Additionally Moreover Furthermore Finally First Second Third Our We They
Performance Technical Details What's New A An To By On Of And Or In particular Results
""".split()  # noqa: SIM905
)

VERBS = frozenset(
    """
enhance enhances improve improves enable enables support supports perform performs achieve
achieves require requires address addresses tackle tackles make makes has have undergone
built across between within out such like including into than via when where while can could
may might will would is are was were be been
""".split()  # noqa: SIM905
)

# words a context never ends on
_TRAILING = STOP | VERBS | frozenset("at as through over under vs vs.".split())  # noqa: SIM905


def name_like(name: str) -> bool:
    """A name has a capital after its first letter, a digit or a hyphen ("MedQA", "GPT-4o"),
    or is one capitalised word of 4+ letters that is not a sentence opener."""
    if len(name) < 2:
        return False
    first = name.split()[0]
    return (
        any(c.isupper() for c in name[1:]) or any(c.isdigit() for c in name) or "-" in name or len(first) >= 4
    ) and first not in NOT_NAMES


def strong_name(name: str) -> bool:
    return any(c.isupper() for c in name[1:]) or any(c.isdigit() for c in name) or "-" in name


def in_name(sent: str, start: int) -> bool:
    """Digits glued to a name: GPT-4, LLaMA2-7B, phi-3-mini."""
    before = sent[start - 1 : start]
    return before.isalpha() or (before == "-" and sent[start - 2 : start - 1].isalnum())


COMPARATIVE = {"faster": "speed", "cheaper": "cost", "better": "performance", "more": "efficiency"}


def metric_near(sent: str, start: int, end: int) -> str:
    """The metric words of the number at ``sent[start:end]``, from its sentence: a known
    metric right after it ("84.9% Top-1 accuracy on ImageNet-1K"), a named measure right
    before it ("a Milestone Score Rate of 66.2%"), what it is a share of ("0.00025% of the
    parameters"), the benchmark it was reached on ("scored 75.7% on MedQA"), else a known
    metric elsewhere in the sentence ("success rates ... differ by 20%")."""
    after = sent[end:].lstrip(")")
    for w in METRIC_WORDS:
        phrase = re.match(rf"\s((?:[\w-]+\s)?{re.escape(w)})\b", after, re.I)
        if phrase:
            on = re.match(rf"\s(?:on|in)\s(?:the\s)?({NAME})", after[phrase.end() :])
            return f"{phrase.group(1)} on {on.group(1)}" if on else phrase.group(1)
    named = re.search(
        r"((?:[A-Z][\w-]*\s){0,3}(?:[A-Z][\w-]*|[a-z-]+\s(?:rate|score|accuracy)))\s(?:of|at)\s$",
        sent[:start],
    )
    on = re.match(rf"\s(?:on|in)\s(?:the\s)?({NAME})", after)
    if named and named.group(1).split()[0] not in NOT_NAMES:
        return named.group(1) + (f" on {on.group(1)}" if on and name_like(on.group(1)) else "")
    share = re.match(r"\s(?:of|in)\s(?:the\s|its\s|their\s)?((?:[a-z][\w'-]*\s){0,2}[a-z][\w-]*)", after)
    words = share.group(1).split() if share else []
    while words and (words[-1] in STOP or words[-1] in VERBS):
        words = words[:-1]
    if words and words[0] not in STOP and words[0] not in VERBS:
        return " ".join(words)
    faster = re.match(r"\s(faster|higher|lower|smaller|larger|fewer|less|more|better|cheaper)\b", after)
    if faster:  # "6.8x higher cost efficiency", "converges 2x faster", "is 523x more efficient"
        what = re.match(r"\s((?:[a-z][\w-]*\s){0,2}[a-z][\w-]*)", after[faster.end() :])
        words = what.group(1).split() if what else []
        while words and (words[-1] in STOP or words[-1] in VERBS):
            words = words[:-1]
        if words and words[0] not in STOP and words[0] not in VERBS:
            return " ".join(words)
        verb = [v for v in re.findall(r"[a-z][\w-]*", sent[:start])[-1:] if v not in STOP and v not in VERBS]
        return " ".join([*verb, faster.group(1)]) if verb else COMPARATIVE.get(faster.group(1), "")
    if on and name_like(on.group(1)):
        return f"score on {on.group(1)}"
    for w in METRIC_WORDS:
        m = re.search(rf"(?<![\w-])((?:[A-Za-z][\w-]*\s)?{re.escape(w)})s?(?![\w-])", sent, re.I)
        if m:
            return " ".join(x for x in m.group(1).split() if x.lower() not in STOP)
    return ""


def clause(sent: str, start: int, end: int, limit: int = 120) -> str:
    """The clause of ``sent`` holding the number (between commas); when longer than
    ``limit`` characters, the words around the number, which it always contains."""
    lo = max(sent.rfind(", ", 0, start), sent.rfind("; ", 0, start))
    lo = 0 if lo < 0 else lo + 2
    hi_c = [i for i in (sent.find(", ", end), sent.find("; ", end)) if i >= 0]
    hi = min(hi_c) if hi_c else len(sent)
    clause = sent[lo:hi].strip().rstrip(".")
    if len(clause) <= limit:
        return clause
    # whole words around the number, trimmed alternately from both ends
    b_starts = [m.start() for m in re.finditer(r"\S+", sent[lo:start])]
    a_ends = [m.end() for m in re.finditer(r"\S+", sent[end:hi])]
    nb, na = min(len(b_starts), 8), min(len(a_ends), 8)

    def window(nb: int, na: int) -> str:
        a = lo + b_starts[-nb] if nb else start
        b = end + a_ends[na - 1] if na else end
        return sent[a:b]

    while len(window(nb, na)) > limit and (nb or na):
        if nb >= na:
            nb -= 1
        else:
            na -= 1
    text = window(nb, na)
    while na > 1 and text.split()[-1].lower() in _TRAILING:  # "... benchmark while", "... at"
        na -= 1
        text = window(nb, na)
    return text.strip(" ,;:(").rstrip(".")
