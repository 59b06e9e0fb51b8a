"""Pattern discovery: word n-grams over-represented in a gold set relative to a corpus.

For each n-gram (lower-cased tokens as in the DSIR features, joined by single spaces) the
document frequencies in the gold set (``g`` of ``G`` documents) and in the corpus (``c`` of
``C``) give a smoothed log ratio ``log((g + a) / (G + 2a)) - log((c + a) / (C + 2a))``
(``a = 0.5``). N-grams found in at least ``min_gold_docs`` gold documents are ranked by it:
the top of the list are candidate literals for a pattern pack.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa

from fastscan import _fastscan

SMOOTHING = 0.5


@dataclass(frozen=True)
class Candidate:
    ngram: str
    gold_docs: int
    corpus_docs: int
    log_ratio: float


def discover(
    gold: Sequence[str],
    corpus: Sequence[str],
    *,
    min_n: int = 1,
    max_n: int = 3,
    top: int = 50,
    min_gold_docs: int = 3,
    threads: int | None = None,
) -> list[Candidate]:
    """The `top` n-grams most over-represented in `gold` relative to `corpus`."""
    if not gold or not corpus:
        raise ValueError("discover needs a non-empty gold set and corpus")
    g_freq = _fastscan.doc_frequencies(
        pa.array(list(gold), pa.large_string()), min_n, max_n, threads=threads
    )
    c_freq = _fastscan.doc_frequencies(
        pa.array(list(corpus), pa.large_string()), min_n, max_n, threads=threads
    )
    big_g, big_c = len(gold), len(corpus)
    out = []
    for gram, g in g_freq.items():
        if g < min_gold_docs:
            continue
        c = c_freq.get(gram, 0)
        ratio = math.log((g + SMOOTHING) / (big_g + 2 * SMOOTHING)) - math.log(
            (c + SMOOTHING) / (big_c + 2 * SMOOTHING)
        )
        out.append(Candidate(gram, g, c, ratio))
    out.sort(key=lambda x: (-x.log_ratio, -x.gold_docs, x.ngram))
    return out[:top]
