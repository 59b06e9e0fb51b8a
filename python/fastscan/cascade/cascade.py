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
columns of stages it never reached are null. Each stage measures what the thresholds of the
stages before it keep; a ``top_fraction`` ranks all the texts that reach its stage (ties by
input order), after every stage has measured them (`fastscan.cascade.decide`).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fastscan.cascade.decide import decide, find_cutoffs, funnel
from fastscan.cascade.funnel import StageFunnel
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
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
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

    def measure(
        self, texts: Any, watcher: Watcher | None = None
    ) -> tuple[dict[str, pa.Array], dict[str, tuple[float, float]]]:
        """Every stage's columns for `texts` (an Arrow string array), each stage measuring
        what the thresholds of the ones before it keep (null elsewhere); with each stage's
        (setup seconds, seconds). Null texts reach no stage."""
        watcher = watcher or _Quiet()
        n = len(texts)
        alive = np.flatnonzero(np.asarray(pc.is_valid(texts), dtype=bool))
        columns: dict[str, pa.Array] = {}
        seconds: dict[str, tuple[float, float]] = {}
        for stage in self.stages:
            sub = texts.take(pa.array(alive, pa.int64()))
            started = time.perf_counter()
            if len(alive):
                if stage.setup_message:
                    watcher.stage_status(stage.name, stage.setup_message)
                stage.prepare()
                watcher.stage_status(stage.name, "")
            setup = time.perf_counter() - started
            started = time.perf_counter()
            measured = stage.measure(sub, functools.partial(watcher.stage_advance, stage.name))
            keep, _ = stage.decide(measured)
            seconds[stage.name] = (setup, time.perf_counter() - started)
            mask = np.zeros(n, dtype=bool)
            mask[alive] = True
            for name, column in zip(measured.schema.names, measured.columns, strict=True):
                if name in columns:
                    raise ValueError(f"two stages write the column {name!r}")
                columns[name] = spread(column, pa.array(mask))
            alive = alive[np.asarray(pc.fill_null(keep, False), dtype=bool)]
        return columns, seconds

    def run(
        self, texts: Any, sizes: Sequence[int] | None = None, watcher: Watcher | None = None
    ) -> CascadeResult:
        """Runs every stage over `texts` (a list of str or an Arrow string array), then
        decides: thresholds, and each `top_fraction` ranked over all the texts. `sizes`
        (default: the texts' UTF-8 lengths) are the bytes the funnel counts per document; a
        `watcher` hears what each stage is doing (and may stop the run by raising)."""
        texts = as_texts(texts)
        n = len(texts)
        if sizes is not None and len(sizes) != n:
            raise ValueError(f"{len(sizes)} sizes for {n} texts")
        lengths = (
            pa.array(list(sizes), pa.int64())
            if sizes is not None
            else pc.fill_null(pc.binary_length(texts), 0)
        )
        measured, seconds = self.measure(texts, watcher)
        reject = pc.if_else(pc.is_valid(texts), pa.scalar(None, pa.string()), "null_text")
        table = pa.table({**measured, "reject_reason": reject})
        cutoffs = find_cutoffs(self.stages, lambda: [(0, table, None)])
        decisions = decide(self.stages, table, cutoffs)
        out = pa.table(
            {**measured, **decisions.columns(), "stages_passed": decisions.stages_passed}
        )
        return CascadeResult(out, funnel(self.names, decisions, lengths, seconds))


def as_texts(texts: Any) -> pa.Array:
    """Texts as one Arrow string or binary array (large layouts for views)."""
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    if not isinstance(texts, pa.Array):
        texts = pa.array(list(texts), pa.large_string())
    # View layouts have fewer compute kernels (binary_length, take): the plain large form.
    if pa.types.is_string_view(texts.type):
        texts = texts.cast(pa.large_string())
    elif pa.types.is_binary_view(texts.type):
        texts = texts.cast(pa.large_binary())
    return texts
