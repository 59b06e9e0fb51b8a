"""`Cascade`: stages run in order, each on the survivors of the ones before it.

    cascade = fastscan.Cascade([
        fastscan.PatternStage(min_score=2),
        fastscan.StatsStage(min={"words": 20}, max={"dup_line_char_frac": 0.5}),
        fastscan.SemanticStage("gold.jsonl", min_similarity=0.35),
    ])
    result = cascade.run(texts)      # list of str or an Arrow string array
    result.table                     # one row per text: every stage's columns, decision, ...
    result.funnel                    # per stage: docs / bytes in and out, seconds, drop reasons

Null texts are rejected (``null_text``) before the first stage. A document's decision is
``kept`` when every stage keeps it, else ``dropped`` with ``dropped_by`` naming the stage;
columns of stages it never reached are null.
"""

from __future__ import annotations

import functools
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.compute as pc

from fastscan.cascade.stages import Stage


class Watcher(Protocol):
    """Hears what the stages of a run are doing (a progress display)."""

    def stage_status(self, stage: str, message: str) -> None:
        """`stage` is busy with `message` (empty: no longer)."""

    def stage_advance(self, stage: str, docs: int) -> None:
        """`stage` finished `docs` more documents."""


class _Quiet:
    def stage_status(self, stage: str, message: str) -> None:
        pass

    def stage_advance(self, stage: str, docs: int) -> None:
        pass


@dataclass
class StageFunnel:
    """One stage's line of the funnel."""

    name: str
    docs_in: int = 0
    bytes_in: int = 0
    docs_out: int = 0
    bytes_out: int = 0
    seconds: float = 0.0
    setup_seconds: float = 0.0
    drop_reasons: Counter[str] = field(default_factory=Counter)

    def merge(self, other: StageFunnel) -> None:
        self.docs_in += other.docs_in
        self.bytes_in += other.bytes_in
        self.docs_out += other.docs_out
        self.bytes_out += other.bytes_out
        self.seconds += other.seconds
        self.setup_seconds += other.setup_seconds
        self.drop_reasons.update(other.drop_reasons)

    def to_dict(self) -> dict[str, Any]:
        mb = self.bytes_in / 1e6
        return {
            "stage": self.name,
            "docs_in": self.docs_in,
            "bytes_in": self.bytes_in,
            "docs_out": self.docs_out,
            "bytes_out": self.bytes_out,
            "seconds": round(self.seconds, 6),
            "setup_seconds": round(self.setup_seconds, 6),
            "docs_per_s": round(self.docs_in / self.seconds, 1) if self.seconds else None,
            "mb_per_s": round(mb / self.seconds, 3) if self.seconds else None,
            "drop_reasons": dict(self.drop_reasons.most_common()),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StageFunnel:
        return cls(
            name=data["stage"],
            docs_in=data["docs_in"],
            bytes_in=data["bytes_in"],
            docs_out=data["docs_out"],
            bytes_out=data["bytes_out"],
            seconds=data["seconds"],
            setup_seconds=data.get("setup_seconds", 0.0),
            drop_reasons=Counter(data["drop_reasons"]),
        )


@dataclass
class CascadeResult:
    """Per-document columns and decisions, and the funnel."""

    table: pa.Table
    funnel: list[StageFunnel]

    @property
    def kept(self) -> pa.BooleanArray:
        """True for each kept document (one array, not chunked)."""
        return pc.equal(self.table.column("decision").combine_chunks(), "kept")


def spread(values: pa.Array | pa.ChunkedArray, mask: pa.BooleanArray) -> pa.Array:
    """`values` (one per true entry of `mask`, in order) at the true positions of a
    `len(mask)` array, nulls elsewhere."""
    position = pc.subtract(pc.cumulative_sum(pc.cast(mask, pa.int64())), 1)
    index = pc.if_else(mask, position, pa.scalar(None, pa.int64()))
    return values.take(index)


class Cascade:
    """Stages applied in order; see the module docs."""

    def __init__(self, stages: Sequence[Stage]) -> None:
        if not stages:
            raise ValueError("a cascade needs at least one stage")
        names = [s.name for s in stages]
        if len(set(names)) != len(names):
            raise ValueError(f"stage names must be unique: {names}")
        self.stages = list(stages)

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.stages]

    def describe(self) -> list[dict[str, Any]]:
        return [s.describe() for s in self.stages]

    def keeps(self, texts: Sequence[str]) -> list[bool]:
        """Whether the cascade keeps each text (`run`'s decisions, as a list)."""
        return [bool(k) for k in self.run(texts).kept.to_pylist()]

    def run(
        self, texts: Any, sizes: Sequence[int] | None = None, watcher: Watcher | None = None
    ) -> CascadeResult:
        """Runs every stage; `sizes` (default: the texts' UTF-8 lengths) are the bytes the
        funnel counts per document (``fastscan-filter`` passes the records' sizes); a
        `watcher` hears what each stage is doing (and may stop the run by raising)."""
        watcher = watcher or _Quiet()
        if isinstance(texts, pa.ChunkedArray):
            texts = texts.combine_chunks()
        if not isinstance(texts, pa.Array):
            texts = pa.array(list(texts), pa.large_string())
        # View layouts have fewer compute kernels (binary_length, take): the plain large form.
        if pa.types.is_string_view(texts.type):
            texts = texts.cast(pa.large_string())
        elif pa.types.is_binary_view(texts.type):
            texts = texts.cast(pa.large_binary())
        n = len(texts)
        if sizes is not None and len(sizes) != n:
            raise ValueError(f"{len(sizes)} sizes for {n} texts")
        lengths = (
            list(sizes)
            if sizes is not None
            else pc.fill_null(pc.binary_length(texts), 0).to_pylist()
        )
        alive = [i for i in range(n) if texts[i].is_valid]
        columns: dict[str, pa.Array] = {}
        dropped_by: list[str | None] = [None] * n
        reason: list[str | None] = [None if texts[i].is_valid else "null_text" for i in range(n)]
        funnel = []
        for stage in self.stages:
            line = StageFunnel(stage.name)
            line.docs_in = len(alive)
            line.bytes_in = sum(lengths[i] for i in alive)
            sub = texts.take(pa.array(alive, pa.int64()))
            started = time.perf_counter()
            if alive:
                if stage.setup_message:
                    watcher.stage_status(stage.name, stage.setup_message)
                stage.prepare()
                watcher.stage_status(stage.name, "")
            line.setup_seconds = time.perf_counter() - started
            started = time.perf_counter()
            result = stage.run(sub, functools.partial(watcher.stage_advance, stage.name))
            line.seconds = time.perf_counter() - started
            reached = [False] * n
            for i in alive:
                reached[i] = True
            mask = pa.array(reached, pa.bool_())
            for name, column in zip(
                result.columns.schema.names, result.columns.columns, strict=True
            ):
                if name in columns:
                    raise ValueError(f"two stages write the column {name!r}")
                columns[name] = spread(column, mask)
            keep = result.keep.to_pylist()
            why = result.reasons.to_pylist()
            survivors = []
            for j, i in enumerate(alive):
                if keep[j]:
                    survivors.append(i)
                else:
                    dropped_by[i] = stage.name
                    reason[i] = why[j] or "dropped"
                    line.drop_reasons[reason[i] or "dropped"] += 1
            alive = survivors
            line.docs_out = len(alive)
            line.bytes_out = sum(lengths[i] for i in alive)
            funnel.append(line)
        alive_set = set(alive)
        decision = [
            "kept" if i in alive_set else ("rejected" if reason[i] == "null_text" else "dropped")
            for i in range(n)
        ]
        position = {name: k for k, name in enumerate(self.names)}
        passed = [
            len(self.stages) if i in alive_set else position.get(dropped_by[i] or "", -1)
            for i in range(n)
        ]
        table = pa.table(
            {
                **columns,
                "decision": pa.array(decision, pa.string()),
                "dropped_by": pa.array(dropped_by, pa.string()),
                "drop_reason": pa.array(reason, pa.string()),
                "stages_passed": pa.array(passed, pa.int32()),
            }
        )
        return CascadeResult(table, funnel)
