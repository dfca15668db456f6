"""Word alignment of a parallel corpus: IBM Model 1, by expectation-maximisation, in numpy.

Given pairs of token lists (source sentence, target sentence), it estimates ``t(target
word | source word)``: the probability that a source word is rendered by a target word.
Model 1 is the classic first step of statistical translation: it needs no dictionary, and
its EM "explains away" the words a sentence pair shares by chance, so a frequent source word
ends up with its real translation (``영상`` -> ``video``) instead of the words it merely
co-occurs with.  A source word seen once has no evidence to split its mass: its
probabilities stay spread thin, which :func:`translation_table` filters out.

Every (source word, target word) co-occurrence in a pair is one row of three parallel
arrays, so an EM iteration is a few ``bincount`` calls; memory grows with the number of
co-occurrences (about 25 x 25 per sentence pair).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

NULL = "\x00null"  # the empty source word: target words that translate nothing


@dataclass
class Alignment:
    """``prob[i]`` = t(target ``tgt_vocab[tgt[i]]`` | source ``src_vocab[src[i]]``)."""

    src_vocab: list[str]
    tgt_vocab: list[str]
    src: np.ndarray
    tgt: np.ndarray
    prob: np.ndarray


def ibm1(pairs: Sequence[tuple[Sequence[str], Sequence[str]]], iterations: int = 8) -> Alignment:
    """Train IBM Model 1 on ``(source tokens, target tokens)`` pairs (duplicates in a
    sentence count once)."""
    src_index: dict[str, int] = {NULL: 0}
    tgt_index: dict[str, int] = {}
    rows_src: list[np.ndarray] = []
    rows_tgt: list[np.ndarray] = []
    rows_pair: list[np.ndarray] = []
    for n, (src_tokens, tgt_tokens) in enumerate(pairs):
        tgt_ids = sorted({tgt_index.setdefault(t, len(tgt_index)) for t in tgt_tokens})
        if not tgt_ids:
            continue
        src_ids = sorted({src_index.setdefault(s, len(src_index)) for s in src_tokens} | {0})
        rows_src.append(np.repeat(np.asarray(src_ids, dtype=np.int32), len(tgt_ids)))
        rows_tgt.append(np.tile(np.asarray(tgt_ids, dtype=np.int32), len(src_ids)))
        rows_pair.append(np.full(len(src_ids) * len(tgt_ids), n, dtype=np.int64))
    src_vocab = list(src_index)
    tgt_vocab = list(tgt_index)
    if not rows_src:
        empty = np.zeros(0, dtype=np.int32)
        return Alignment(src_vocab, tgt_vocab, empty, empty, np.zeros(0))
    src = np.concatenate(rows_src)
    tgt = np.concatenate(rows_tgt)
    pair = np.concatenate(rows_pair)
    n_tgt = max(len(tgt_vocab), 1)
    # one probability per distinct (source, target) word pair
    combos, combo_of_row = np.unique(src.astype(np.int64) * n_tgt + tgt, return_inverse=True)
    combo_src = (combos // n_tgt).astype(np.int64)
    # the rows that compete to explain one target word of one sentence pair
    _, slot_of_row = np.unique(pair * n_tgt + tgt, return_inverse=True)
    prob = np.ones(len(combos))
    for _ in range(iterations):
        weight = prob[combo_of_row]
        norm = np.bincount(slot_of_row, weights=weight)
        posterior = weight / norm[slot_of_row]
        counts = np.bincount(combo_of_row, weights=posterior, minlength=len(combos))
        totals = np.bincount(combo_src, weights=counts, minlength=len(src_vocab))
        prob = counts / totals[combo_src]
    return Alignment(
        src_vocab, tgt_vocab, combo_src.astype(np.int32), (combos % n_tgt).astype(np.int32), prob
    )


def translation_table(
    alignment: Alignment, *, min_prob: float, top: int
) -> dict[str, list[tuple[str, float]]]:
    """For every source word: its ``top`` most probable target words with t >= ``min_prob``,
    best first (the NULL word is left out)."""
    order = np.lexsort((-alignment.prob, alignment.src))
    table: dict[str, list[tuple[str, float]]] = {}
    for i in order:
        p = float(alignment.prob[i])
        if p < min_prob:
            continue
        word = alignment.src_vocab[int(alignment.src[i])]
        if word == NULL:
            continue
        row = table.setdefault(word, [])
        if len(row) < top:
            row.append((alignment.tgt_vocab[int(alignment.tgt[i])], round(p, 4)))
    return table
