"""Top-fraction selection over a whole run: exact, with ties broken by position.

A stage with a ``top_fraction`` keeps that fraction (rounded up) of a reference count of
records, ranked by its score, highest first, among the records that reach it and pass its
thresholds. The reference is the records read (the corpus: the earlier stages' drops count
as ranked below, so ``top_fraction = 0.05`` keeps 5% of the corpus) unless the stage says
``top_fraction_of = "stage"`` (then the records ranked); among equal scores the earlier
record wins, in the order of (part, row): part is the shard's index in the run (0 for one
table), row the record's row in it. The ranking is over every part at once, so it is the
same whether a run has one shard or a thousand, and `Cutoff` says where it ends in three
numbers that every part can apply on its own.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


@dataclass(frozen=True)
class Cutoff:
    """Where a ranking ends: a record is kept when its score is above `value`, or equal to it
    and its position ``(part, row)`` is not after ``(part, row)`` of the last record kept.
    ``value`` None keeps every record (the quota covers them all)."""

    value: float | None = None
    part: int = 0
    row: int = 0
    of: int | None = dataclasses.field(default=None, compare=False)
    """The count the fraction was taken of (records read, or records ranked): said in drop
    reasons, not part of where the ranking ends."""

    def keeps(self, score: Any, part: int, rows: Any) -> Any:
        """One boolean per record of one part (`rows`: their rows); a null score is not kept."""
        n = len(score)
        if self.value is None:
            return pa.array(np.ones(n, dtype=bool))
        above = pc.fill_null(pc.greater(score, self.value), False)
        tie = pc.fill_null(pc.equal(score, self.value), False)
        if part != self.part:
            return above if part > self.part else pc.or_(above, tie)
        early = pc.less_equal(rows, pa.scalar(self.row, pa.uint64()))
        return pc.or_(above, pc.and_(tie, early))

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "part": self.part, "row": self.row, "of": self.of}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Cutoff:
        return cls(data["value"], data["part"], data["row"], data.get("of"))


Part = tuple[int, Any, Any]
"""One part's eligible records: ``(part, scores, rows)``."""

DIGIT_BITS = 16
"""Bits of the sort key a histogram pass resolves (65,536 counters)."""
COLLECT = 1 << 20
"""Records few enough to gather and sort (24 bytes each) once the histograms have narrowed
the cutoff down to them."""


def find_cutoff(
    fraction: float,
    parts: Callable[[], Iterable[Part]],
    reference: Callable[[], int] | None = None,
) -> Cutoff:
    """The `Cutoff` of the top `fraction` of every record `parts()` yields, exactly: the
    ``ceil(fraction * count)`` highest, where the count is `reference()` (asked after the
    first pass: the records read, for a fraction of the corpus) or the records yielded.

    `parts()` yields each part's eligible records as ``(part, scores, rows)`` in increasing
    part order and is called once per pass. Memory does not grow with the run: one part at a
    time, a histogram of 65,536 counters, and at most `COLLECT` records gathered at the end.
    The first pass counts records and histograms the top 16 bits of a sort key (the score's
    IEEE bits made to sort as the score does); each further pass either narrows the
    histogram by 16 more bits or, once at most `COLLECT` records share the cutoff's bucket,
    gathers them and sorts them by (score, part, row). Two passes, usually: more only when a
    bucket holds over a million records (a million equal scores: one streaming pass over the
    ties, in part order).
    """
    n = 0
    counts = np.zeros(1 << DIGIT_BITS, dtype=np.int64)
    shift = 64 - DIGIT_BITS
    previous = -1
    for part, score, _ in parts():
        if part <= previous:
            raise ValueError(f"parts must come in increasing order (part {part} after {previous})")
        previous = part
        keys = _keys(score)
        n += len(keys)
        counts += np.bincount((keys >> np.uint64(shift)).astype(np.int64), minlength=len(counts))
    base = reference() if reference is not None else n
    return dataclasses.replace(_cutoff(fraction, parts, n, base, counts, shift), of=base)


def _cutoff(
    fraction: float,
    parts: Callable[[], Iterable[Part]],
    n: int,
    base: int,
    counts: np.ndarray,
    shift: int,
) -> Cutoff:
    quota = math.ceil(fraction * base)
    if quota >= n:
        return Cutoff()
    if quota == 0:
        return Cutoff(math.inf, 0, 0)  # nothing is above an infinite score
    prefix, rank = _locate(counts, quota)
    while counts[prefix & 0xFFFF] > COLLECT and shift > 0:
        shift -= DIGIT_BITS
        counts[:] = 0
        for _, score, _ in parts():
            keys = _keys(score)
            keys = keys[(keys >> np.uint64(shift + DIGIT_BITS)) == np.uint64(prefix)]
            digit = (keys >> np.uint64(shift)) & np.uint64(0xFFFF)
            counts += np.bincount(digit.astype(np.int64), minlength=len(counts))
        digit, rank = _locate(counts, rank)
        prefix = (prefix << DIGIT_BITS) | digit
    if shift == 0:  # more than COLLECT records of one score: the rank-th of them in order
        return _nth_tie(parts, np.uint64(prefix), rank)
    return _gathered(parts, shift, np.uint64(prefix), rank)


def _keys(score: Any) -> np.ndarray:
    """Unsigned keys in descending order of score (null and NaN last, -0.0 as 0.0)."""
    values = np.asarray(pc.fill_null(score, -math.inf), dtype=np.float64) + 0.0
    values[np.isnan(values)] = -math.inf
    bits = values.view(np.uint64)
    negative = (bits >> np.uint64(63)).astype(bool)
    ascending = np.where(negative, ~bits, bits | np.uint64(1 << 63))
    return ~ascending


def _score(key: np.uint64) -> float:
    ascending = ~np.uint64(key)
    positive = bool(ascending >> np.uint64(63))
    bits = ascending & ~np.uint64(1 << 63) if positive else ~ascending
    return float(np.array([bits], dtype=np.uint64).view(np.float64)[0])


def _locate(counts: np.ndarray, rank: int) -> tuple[int, int]:
    """The bucket holding the `rank`-th record (1-based) and its rank inside it."""
    total = np.cumsum(counts)
    bucket = int(np.searchsorted(total, rank))
    return bucket, rank - (int(total[bucket - 1]) if bucket else 0)


def _gathered(
    parts: Callable[[], Iterable[Part]], shift: int, prefix: np.uint64, rank: int
) -> Cutoff:
    """Gathers the records whose key starts with `prefix` and picks the `rank`-th."""
    keys, where, rows = [], [], []
    for part, score, part_rows in parts():
        part_keys = _keys(score)
        mine = (part_keys >> np.uint64(shift)) == prefix
        keys.append(part_keys[mine])
        where.append(np.full(int(mine.sum()), part, dtype=np.int64))
        rows.append(np.asarray(part_rows, dtype=np.uint64)[mine])
    all_keys, all_parts, all_rows = (np.concatenate(a) for a in (keys, where, rows))
    last = np.lexsort((all_rows, all_parts, all_keys))[rank - 1]
    return Cutoff(_score(all_keys[last]), int(all_parts[last]), int(all_rows[last]))


def _nth_tie(parts: Callable[[], Iterable[Part]], key: np.uint64, rank: int) -> Cutoff:
    """The `rank`-th record in (part, row) order among those with sort key `key` (the
    first pass saw the parts come in increasing order)."""
    seen = 0
    for part, score, rows in parts():
        ties = np.sort(np.asarray(rows, dtype=np.uint64)[_keys(score) == key])
        if seen + len(ties) >= rank:
            return Cutoff(_score(key), part, int(ties[rank - seen - 1]))
        seen += len(ties)
    raise AssertionError("the histograms counted more ties than the parts hold")
