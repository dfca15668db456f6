"""The query bridge's table, mined at index time from the corpus's own parallel text.

- every translated section (translations and the translation memory) is split into
  sentences, paired with its Korean source, and aligned word by word with IBM Model 1 in both
  directions (``align.py``): ``영상`` -> ``video``, ``증류`` -> ``distillation``;
- the glossary (``glossary.tsv``, user-editable) and the digests' own ``한국어(English)``
  glosses give phrase pairs: ``미세 조정`` -> ``fine-tuning``.

The table is stored in ``OUT/bridge/`` under a hash of its inputs (a query never rebuilds
it; Korean morphological analysis of each sentence, and the glosses of each text, are cached
by content hash, so adding digests analyses only the new text).  ``bridge.py`` uses it at query time.

The word alignment is a statistic of thousands of sentences: one more day barely moves it,
and training it is the one part of a daily ``digest index`` that does not shrink with the
day.  So it is kept (``OUT/bridge/alignment.json``, with the sections it was trained on) and
trained again only when at least ``search.bridge_retrain_share`` of the sections it would
learn from are new (or gone); the glossary and the glosses always take effect at once.
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..records import Entry, SectionTranslation
from ..settings import Settings
from ..store.journal import JsonlCache
from ..store.jsonl import content_hash, write_text_atomic
from ..store.layout import OutDir
from ..text.glossary import load_glossary
from ..text.hangul import has_hangul
from ..text.memory import load_memory
from ..text.terms import mine_term_pairs
from .align import ibm1, translation_table
from .gloss_cache import cached_glosses
from .lexical import analyser_id, tokenize_en, tokenize_ko

log = logging.getLogger(__name__)

BRIDGE_VERSION = "bridge-v1"
MIN_PROB = 0.2  # a translation weaker than this is noise (a word seen once spreads its mass)
MIN_SENTENCES = 2  # a word seen in one sentence pair has no evidence for its translation
TOP = 3  # translations kept per word
ALIGNMENT = "alignment.json"  # the kept word alignment, in OUT/bridge/
_KO_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_EN_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[])")
EN_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*")

# -- the corpus's parallel text --------------------------------------------------------------


def corpus_pairs(
    settings: Settings,
    entries: list[Entry] | None = None,
    translations: list[SectionTranslation] | None = None,
    limit: int | None = None,
) -> list[tuple[str, str]]:
    """(Korean section, English translation) for every translated section, newest digests
    first (the first ``limit``); the translation memory fills sections the translate stage
    has not done.  ``entries``/``translations``: already loaded (else read from the folder)."""
    out = OutDir(settings.out_dir)
    entries = out.load_entries() if entries is None else entries
    translations = out.load_translations() if translations is None else translations
    translated = {(t.entry_id, t.index): t.text for t in translations if t.text.strip()}
    memory = load_memory(settings.translate.memory_files)
    pairs: list[tuple[str, str]] = []
    for e in sorted(entries, key=lambda e: (str(e.date or ""), e.id), reverse=True):
        if limit is not None and len(pairs) >= limit:
            break
        for i, s in enumerate(e.sections):
            english = translated.get((e.id, i)) or memory.lookup(s.text)
            if english and s.text.strip():
                pairs.append((s.text, english))
    return pairs


def sentence_pairs(korean: str, english: str) -> list[tuple[str, str]]:
    """The section's sentences paired one to one when both sides have as many; else the
    section as one pair."""
    ko = [s for s in _KO_SENTENCE.split(korean.strip()) if s.strip()]
    en = [s for s in _EN_SENTENCE.split(english.strip()) if s.strip()]
    if len(ko) == len(en) > 1:
        return list(zip(ko, en, strict=True))
    return [(korean, english)]


# -- the table ---------------------------------------------------------------------------------


@dataclass
class BridgeTable:
    ko_en: dict[str, list[tuple[str, float]]] = field(default_factory=dict)  # Korean token -> English
    en_ko: dict[str, list[tuple[str, float]]] = field(default_factory=dict)  # English token -> Korean
    surface: dict[str, str] = field(default_factory=dict)  # English token -> a word that spells it
    # (Korean, English, weight, the Korean's index tokens): glossary and glosses
    phrases: list[tuple[str, str, float, list[str]]] = field(default_factory=list)
    sentences: int = 0

    def to_json(self) -> str:
        return json.dumps(self.__dict__, ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> BridgeTable:
        data = json.loads(text)
        return cls(
            ko_en={k: [(e, float(p)) for e, p in v] for k, v in data["ko_en"].items()},
            en_ko={k: [(e, float(p)) for e, p in v] for k, v in data["en_ko"].items()},
            surface=data["surface"],
            phrases=[(k, e, float(w), list(t)) for k, e, w, t in data["phrases"]],
            sentences=int(data["sentences"]),
        )


def _frequent(
    table: dict[str, list[tuple[str, float]]], df: Counter[str]
) -> dict[str, list[tuple[str, float]]]:
    return {w: row for w, row in table.items() if df[w] >= MIN_SENTENCES}


def align_words(pairs: Iterable[tuple[str, str]], tokenize_korean: Any = tokenize_ko) -> dict[str, Any]:
    """The word alignment of the sentence pairs, both ways (``ko_en``, ``en_ko``), the
    spelling of each English stem (``surface``) and the number of sentence pairs."""
    ko_side: list[list[str]] = []
    en_side: list[list[str]] = []
    spellings: dict[str, Counter[str]] = defaultdict(Counter)
    for korean, english in pairs:
        for ko, en in sentence_pairs(korean, english):
            ko_side.append([t for t in tokenize_korean(ko) if has_hangul(t)])
            en_side.append(tokenize_en(en))
            for word in EN_WORD.findall(en):
                spellings[word.lower()][word.lower()] += 1
    surface: dict[str, Counter[str]] = defaultdict(Counter)
    for word, counts in spellings.items():  # each distinct word stemmed once
        stems = tokenize_en(word)
        if len(stems) == 1:
            surface[stems[0]].update(counts)
    ko_df = Counter(t for toks in ko_side for t in set(toks))
    en_df = Counter(t for toks in en_side for t in set(toks))
    ko_en = translation_table(ibm1(list(zip(ko_side, en_side, strict=True))), min_prob=MIN_PROB, top=TOP)
    en_ko = translation_table(ibm1(list(zip(en_side, ko_side, strict=True))), min_prob=MIN_PROB, top=TOP)
    return {
        "ko_en": _frequent(ko_en, ko_df),
        "en_ko": _frequent(en_ko, en_df),
        "surface": {stem: counts.most_common(1)[0][0] for stem, counts in surface.items()},
        "sentences": len(ko_side),
    }


def phrase_pairs(
    glossary: dict[str, str],
    korean_texts: Iterable[str],
    tokenize_korean: Any = tokenize_ko,
    glosses_of: Any = None,
) -> list[tuple[str, str, float, list[str]]]:
    """The glossary's pairs (binding) and the texts' own glosses (``glosses_of``: texts ->
    each one's pairs; default: mined now), a gloss the texts disagree on weighing less."""
    phrases: dict[tuple[str, str], float] = {}
    glosses: dict[str, Counter[str]] = defaultdict(Counter)
    texts = list(korean_texts)
    for found in glosses_of(texts) if glosses_of else map(mine_term_pairs, texts):
        for ko, en in found:
            glosses[ko][en] += 1
    for ko, counts in glosses.items():
        total = sum(counts.values())
        for en, n in counts.items():
            phrases[(ko, en)] = round(n / total, 4)
    for ko, en in glossary.items():  # the user's glossary is binding
        phrases[(ko, en)] = 1.0
    return sorted((k, e, w, tokenize_korean(k)) for (k, e), w in phrases.items())


def build_table(
    pairs: Iterable[tuple[str, str]],
    glossary: dict[str, str],
    korean_texts: Iterable[str],
    tokenize_korean: Any = tokenize_ko,
    glosses_of: Any = None,
) -> BridgeTable:
    """Align the sentence pairs both ways; add the glossary and the texts' own glosses."""
    words = align_words(pairs, tokenize_korean)
    return BridgeTable(
        ko_en=words["ko_en"],
        en_ko=words["en_ko"],
        surface=words["surface"],
        phrases=phrase_pairs(glossary, korean_texts, tokenize_korean, glosses_of),
        sentences=words["sentences"],
    )


class _CachedKorean:
    """Korean tokenisation with a per-sentence cache (``OUT/bridge/tokens.jsonl``)."""

    def __init__(self, path: Path) -> None:
        self.cache = JsonlCache(path)
        self.new: dict[str, list[str]] = {}
        self.analyser = analyser_id("ko")  # the cached tokens are this analyser's

    def __call__(self, text: str) -> list[str]:
        key = content_hash(BRIDGE_VERSION, self.analyser, text, length=20)
        hit = self.new.get(key) or self.cache.get(key)
        if hit is None:
            hit = self.new[key] = tokenize_ko(text)
        return list(hit)

    def save(self) -> None:
        self.cache.put_many(self.new)
        self.new = {}


def table_inputs(
    settings: Settings,
    entries: list[Entry] | None = None,
    translations: list[SectionTranslation] | None = None,
) -> tuple[list[tuple[str, str]], dict[str, str], list[str]]:
    entries = OutDir(settings.out_dir).load_entries() if entries is None else entries
    limit = settings.search.bridge_max_sections
    pairs = corpus_pairs(settings, entries, translations, limit)[:limit]
    glossary = load_glossary(settings.translate.glossary_file).entries
    texts = [s.text for e in entries for s in e.sections]
    return pairs, glossary, texts


# -- the kept alignment ------------------------------------------------------------------------


def _alignment_identity() -> str:
    """What the alignment depends on besides its sections: this module's rules and the analyser."""
    return content_hash(BRIDGE_VERSION, MIN_PROB, MIN_SENTENCES, TOP, analyser_id("ko"), length=16)


def _pair_keys(pairs: list[tuple[str, str]]) -> list[str]:
    return [content_hash(ko, en, length=16) for ko, en in pairs]


def _kept_alignment(path: Path, keys: list[str], retrain_share: float) -> dict[str, Any] | None:
    """The alignment kept at ``path`` when it was trained on nearly these sections: fewer
    than ``retrain_share`` of ``keys`` new, and as few of its own gone; else None."""
    if not path.is_file():
        return None
    try:
        kept = json.loads(path.read_text(encoding="utf-8"))
        if kept.get("identity") != _alignment_identity():
            return None
        trained = set(kept["pairs"])
        words = {name: kept[name] for name in ("ko_en", "en_ko", "surface", "sentences")}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("bridge alignment %s unreadable (%s): training it again", path, exc)
        return None
    current = set(keys)
    changed = len(current - trained) + len(trained - current)
    if not current or changed >= retrain_share * len(current):
        return None
    log.info("query bridge: alignment kept (%d of %d sections new or gone)", changed, len(current))
    return words


def _alignment(
    folder: Path, pairs: list[tuple[str, str]], retrain_share: float, tokenizer: Any
) -> tuple[dict[str, Any], str]:
    """The word alignment for ``pairs``: kept or trained (and kept); and a hash naming it."""
    path = folder / ALIGNMENT
    keys = _pair_keys(pairs)
    words = _kept_alignment(path, keys, retrain_share)
    if words is None:
        words = align_words(pairs, tokenizer)
        kept = {"identity": _alignment_identity(), "pairs": sorted(keys), **words}
        write_text_atomic(path, json.dumps(kept, ensure_ascii=False, sort_keys=True))
    return words, content_hash(words, length=16)


def prepare_bridge(
    settings: Settings,
    entries: list[Entry] | None = None,
    translations: list[SectionTranslation] | None = None,
) -> BridgeTable | None:
    """Build (or find) the table for the current output folder; None when bridging is off
    or nothing is translated yet.  ``entries``/``translations``: already loaded."""
    if not settings.search.bridge:
        return None
    pairs, glossary, texts = table_inputs(settings, entries, translations)
    if not pairs and not glossary:
        return None
    out = OutDir(settings.out_dir)
    folder = out.bridge_dir
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = _CachedKorean(out.bridge_tokens_path)
    words, words_key = _alignment(folder, pairs, settings.search.bridge_retrain_share, tokenizer)
    key = content_hash(BRIDGE_VERSION, words_key, sorted(glossary.items()), texts, length=16)
    target = folder / f"table-{key}.json"
    if target.is_file():
        tokenizer.save()
        try:
            return BridgeTable.from_json(target.read_text(encoding="utf-8"))
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("bridge table %s unreadable (%s): rebuilding", target, exc)
    table = BridgeTable(
        ko_en=words["ko_en"],
        en_ko=words["en_ko"],
        surface=words["surface"],
        phrases=phrase_pairs(glossary, texts, tokenizer, cached_glosses(out.bridge_glosses_path)),
        sentences=words["sentences"],
    )
    tokenizer.save()
    write_text_atomic(target, table.to_json())
    for old in folder.glob("table-*.json"):  # keep only the current table
        if old != target:
            old.unlink(missing_ok=True)
    log.info(
        "query bridge: %d sentence pairs, %d Korean and %d English words, %d phrases",
        table.sentences,
        len(table.ko_en),
        len(table.en_ko),
        len(table.phrases),
    )
    return table
