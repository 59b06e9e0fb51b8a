"""`Tally`: the counts of one shard (or of a whole run), built from scores batches."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

DECISIONS = ("kept", "dropped", "rejected")
# Score histogram: bins of width 1 from 0, the last bin holding everything above.
HISTOGRAM_BINS = 40


@dataclass
class Tally:
    """Documents and bytes per decision, reject reasons, group / format hits, score bins.

    `read == kept + dropped + rejected` holds by construction: every scores row has exactly
    one decision, and `check` verifies it against the rows seen.
    """

    docs: Counter[str] = field(default_factory=Counter)
    bytes: Counter[str] = field(default_factory=Counter)
    reject_reasons: Counter[str] = field(default_factory=Counter)
    group_hits: Counter[str] = field(default_factory=Counter)
    format_hits: Counter[str] = field(default_factory=Counter)
    histogram: list[int] = field(default_factory=lambda: [0] * (HISTOGRAM_BINS + 1))
    rows: int = 0
    blank_lines: int = 0

    def add(self, batch: pa.RecordBatch, min_hits: dict[str, int]) -> None:
        """Counts one scores batch; `min_hits` maps each group to its hit threshold."""
        n = batch.num_rows
        if n == 0:
            return
        self.rows += n
        decision = batch.column("decision")
        # Documents and bytes per decision with compute kernels (Table.group_by would import
        # pyarrow.acero, and with it pandas: a third of a second of start-up per process).
        length = batch.column("length")
        for name in DECISIONS:
            mask = pc.equal(decision, name)
            count = pc.sum(mask).as_py() or 0
            if count:
                self.docs[name] += count
                self.bytes[name] += pc.sum(pc.filter(length, mask)).as_py() or 0
        scored = pc.not_equal(decision, "rejected")
        if self.docs["rejected"]:
            for reason, count in _value_counts(batch.column("reject_reason")):
                self.reject_reasons[reason] += count
        for group, threshold in min_hits.items():
            hit = pc.and_(scored, pc.greater_equal(batch.column(group), max(threshold, 1)))
            self.group_hits[group] += pc.sum(hit).as_py() or 0
        for fmt, count in _value_counts(pc.list_flatten(batch.column("formats"))):
            self.format_hits[fmt] += count
        bins = pc.cast(
            pc.min_element_wise(pc.floor(pc.filter(batch.column("score"), scored)), HISTOGRAM_BINS),
            pa.int64(),
        )
        for b, count in _value_counts(bins):
            self.histogram[int(b)] += count

    def merge(self, other: Tally) -> None:
        """Adds another tally's counts to this one."""
        for mine, theirs in (
            (self.docs, other.docs),
            (self.bytes, other.bytes),
            (self.reject_reasons, other.reject_reasons),
            (self.group_hits, other.group_hits),
            (self.format_hits, other.format_hits),
        ):
            mine.update(theirs)
        self.histogram = [a + b for a, b in zip(self.histogram, other.histogram, strict=True)]
        self.rows += other.rows
        self.blank_lines += other.blank_lines

    @property
    def read_bytes(self) -> int:
        """Bytes of every record counted so far (what the report calls read bytes)."""
        return sum(self.bytes[d] for d in DECISIONS)

    @property
    def read(self) -> int:
        return sum(self.docs[d] for d in DECISIONS)

    def check(self) -> None:
        """Raises when the accounting does not add up (a bug, never bad input)."""
        if self.read != self.rows:
            raise AssertionError(f"accounting: {self.rows} rows but {self.read} decisions")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"read": {"docs": self.read, "bytes": self.read_bytes}}
        for d in DECISIONS:
            out[d] = {"docs": self.docs[d], "bytes": self.bytes[d]}
        out["blank_lines"] = self.blank_lines
        out["reject_reasons"] = dict(sorted(self.reject_reasons.items()))
        out["group_hits"] = dict(self.group_hits)
        out["format_hits"] = dict(sorted(self.format_hits.items()))
        out["score_histogram"] = {"bin_width": 1.0, "counts": list(self.histogram)}
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Tally:
        """Rebuilds a tally from `to_dict` output (a completed shard's marker)."""
        t = cls()
        for d in DECISIONS:
            t.docs[d] = data[d]["docs"]
            t.bytes[d] = data[d]["bytes"]
        t.rows = t.read
        t.blank_lines = data.get("blank_lines", 0)
        t.reject_reasons.update(data["reject_reasons"])
        t.group_hits.update(data["group_hits"])
        t.format_hits.update(data["format_hits"])
        t.histogram = list(data["score_histogram"]["counts"])
        return t


def _value_counts(array: pa.Array | pa.ChunkedArray) -> list[tuple[Any, int]]:
    counts = pc.value_counts(pc.drop_null(array))
    return [
        (v.as_py(), c.as_py())
        for v, c in zip(counts.field("values"), counts.field("counts"), strict=True)
    ]
