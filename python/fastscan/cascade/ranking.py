"""Top-fraction selection over a whole run: exact, with ties broken by position.

A stage with a ``top_fraction`` keeps that fraction (rounded up) of the records that reach it
and pass its thresholds, ranked by its score, highest first; among equal scores the earlier
record wins, in the order of (part, row): part is the shard's index in the run (0 for one
table), row the record's row in it. The ranking is over every part at once, so it is the
same whether a run has one shard or a thousand, and `Cutoff` says where it ends in three
numbers that every part can apply on its own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
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
        return {"value": self.value, "part": self.part, "row": self.row}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Cutoff:
        return cls(data["value"], data["part"], data["row"])


@dataclass
class Ranker:
    """Collects the score and position of every eligible record of a run, then finds the
    `Cutoff` of the top `fraction`. Memory: 24 bytes per eligible record."""

    fraction: float
    scores: list[np.ndarray] = field(default_factory=list)
    parts: list[np.ndarray] = field(default_factory=list)
    rows: list[np.ndarray] = field(default_factory=list)

    def add(self, score: Any, part: int, rows: Any) -> None:
        """Eligible records of one part: their scores and rows."""
        values = np.asarray(pc.fill_null(score, -math.inf), dtype=np.float64)
        self.scores.append(values)
        self.parts.append(np.full(len(values), part, dtype=np.int64))
        self.rows.append(np.asarray(rows, dtype=np.uint64))

    def cutoff(self) -> Cutoff:
        scores = np.concatenate(self.scores) if self.scores else np.zeros(0)
        n = len(scores)
        quota = math.ceil(self.fraction * n)
        if quota >= n:
            return Cutoff()
        parts = np.concatenate(self.parts)
        rows = np.concatenate(self.rows)
        # Highest score first, then the earliest position.
        order = np.lexsort((rows, parts, -scores))
        last = order[quota - 1]
        return Cutoff(float(scores[last]), int(parts[last]), int(rows[last]))
