"""The query bridge's table, mined at index time from the corpus's own parallel text.

- every translated section (translations and the translation memory) is split into
  sentences, paired with its Korean source, and aligned word by word with IBM Model 1 in both
  directions (``align.py``): ``영상`` -> ``video``, ``증류`` -> ``distillation``;
- the glossary (``glossary.tsv``, user-editable) and the digests' own ``한국어(English)``
  glosses give phrase pairs: ``미세 조정`` -> ``fine-tuning``.

The table is stored in ``OUT/bridge/`` under a hash of its inputs (a query never rebuilds
it; Korean morphological analysis of each sentence, and the glosses of each text, are cached
by content hash, so adding digests analyses only the new text; what each entry contributes
is known by its keys, kept by the entry's fingerprint (``bridge_corpus.py``), so the texts
of unchanged entries are not even read).  ``bridge.py`` uses it at query time.

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
from collections.abc import Callable, Iterable
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
from .bridge_corpus import (
    Corpus,
    LoadedCorpus,
    corpus_facts,
    entry_pairs,
    newest_first,
    sort_key,
    translated_sections,
)
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
    translated = translated_sections(translations)
    memory = load_memory(settings.translate.memory_files)
    pairs: list[tuple[str, str]] = []
    for e in sorted(entries, key=sort_key, reverse=True):
        if limit is not None and len(pairs) >= limit:
            break
        pairs.extend(entry_pairs(e, translated, memory))
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
    glosses: Iterable[list[tuple[str, str]]],
    tokenize_korean: Any = tokenize_ko,
) -> list[tuple[str, str, float, list[str]]]:
    """The glossary's pairs (binding) and the texts' own glosses (each text's pairs), a
    gloss the texts disagree on weighing less."""
    phrases: dict[tuple[str, str], float] = {}
    counted: dict[str, Counter[str]] = defaultdict(Counter)
    for found in glosses:
        for ko, en in found:
            counted[ko][en] += 1
    for ko, counts in counted.items():
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
) -> BridgeTable:
    """Align the sentence pairs both ways; add the glossary and the texts' own glosses."""
    words = align_words(pairs, tokenize_korean)
    return BridgeTable(
        ko_en=words["ko_en"],
        en_ko=words["en_ko"],
        surface=words["surface"],
        phrases=phrase_pairs(glossary, map(mine_term_pairs, korean_texts), tokenize_korean),
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


# -- the kept alignment ------------------------------------------------------------------------


def _alignment_identity() -> str:
    """What the alignment depends on besides its sections: this module's rules and the analyser."""
    return content_hash(BRIDGE_VERSION, MIN_PROB, MIN_SENTENCES, TOP, analyser_id("ko"), length=16)


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
    folder: Path,
    keys: list[str],
    pairs_of: Callable[[], list[tuple[str, str]]],
    retrain_share: float,
    tokenizer: Any,
) -> tuple[dict[str, Any], str]:
    """The word alignment for the pairs of ``keys`` (``pairs_of()``: the pairs themselves,
    read only to train): kept or trained (and kept); and a hash naming it."""
    path = folder / ALIGNMENT
    words = _kept_alignment(path, keys, retrain_share)
    if words is None:
        words = align_words(pairs_of(), tokenizer)
        kept = {"identity": _alignment_identity(), "pairs": sorted(keys), **words}
        write_text_atomic(path, json.dumps(kept, ensure_ascii=False, sort_keys=True))
    return words, content_hash(words, length=16)


def prepare_bridge(
    settings: Settings,
    entries: list[Entry] | None = None,
    translations: list[SectionTranslation] | None = None,
    *,
    corpus: Corpus | None = None,
) -> BridgeTable | None:
    """Build (or find) the table for the current output folder; None when bridging is off
    or nothing is translated yet.  ``corpus``: the index stage's entries by fingerprint
    (``bridge_corpus.py``); else ``entries``/``translations`` (read when not given)."""
    if not settings.search.bridge:
        return None
    out = OutDir(settings.out_dir)
    if corpus is None:
        entries = out.load_entries() if entries is None else entries
        translations = out.load_translations() if translations is None else translations
        corpus = LoadedCorpus(entries, translations, load_memory(settings.translate.memory_files))
    folder = out.bridge_dir
    facts = corpus_facts(out.bridge_glosses_path, corpus)
    limit = settings.search.bridge_max_sections
    newest = newest_first(facts, limit)
    keys = [k for i in newest for k in facts[i].pairs][:limit]
    glossary = load_glossary(settings.translate.glossary_file).entries
    if not keys and not glossary:
        return None
    folder.mkdir(parents=True, exist_ok=True)

    def pairs_of() -> list[tuple[str, str]]:
        entries, translations, _ = corpus.load([corpus.units[i] for i in newest])
        translated = translated_sections(translations)
        return [p for e in entries for p in entry_pairs(e, translated, corpus.memory)][:limit]

    tokenizer = _CachedKorean(out.bridge_tokens_path)
    words, words_key = _alignment(folder, keys, pairs_of, settings.search.bridge_retrain_share, tokenizer)
    gloss_keys = [k for f in facts for k in f.glosses]  # every section's text, by its key
    key = content_hash(BRIDGE_VERSION, words_key, sorted(glossary.items()), gloss_keys, length=16)
    target = folder / f"table-{key}.json"
    if target.is_file():
        tokenizer.save()
        try:
            return BridgeTable.from_json(target.read_text(encoding="utf-8"))
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("bridge table %s unreadable (%s): rebuilding", target, exc)

    def texts_of(wanted: list[int]) -> list[str]:  # the texts of these places of `gloss_keys`
        where = [(i, j) for i, f in enumerate(facts) for j in range(len(f.glosses))]
        units = sorted({where[w][0] for w in wanted})
        loaded = dict(zip(units, corpus.load([corpus.units[i] for i in units])[0], strict=True))
        return [loaded[where[w][0]].sections[where[w][1]].text for w in wanted]

    glosses = cached_glosses(out.bridge_glosses_path)(gloss_keys, texts_of)
    table = BridgeTable(
        ko_en=words["ko_en"],
        en_ko=words["en_ko"],
        surface=words["surface"],
        phrases=phrase_pairs(glossary, glosses, tokenizer),
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
