"""Each record's final decision from every stage's columns: the one place it is made.

`decide` takes the columns of a run's records (one table or one shard's scores, every
stage's columns side by side, null where a stage never measured a record), the stages, and
the cutoffs of their rankings; it returns ``decision``, ``dropped_by``, ``drop_reason`` and
``stages_passed``. `Cascade.run`, ``fastscan-filter`` (both phases), ``fastscan select`` and
`BatchScorer` all decide here, so they cannot disagree. `find_cutoffs` ranks a whole run,
stage by stage; `funnel` counts each stage's documents, bytes and drop reasons.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fastscan.cascade.funnel import StageFunnel
from fastscan.cascade.ranking import Cutoff, find_cutoff
from fastscan.cascade.stages import Columns, Stage

DECISION_COLUMNS = ("decision", "dropped_by", "drop_reason")


class NotMeasuredError(ValueError):
    """Records reach a stage that never measured them (their columns are null): the run
    that scored them dropped them earlier, with other settings."""


@dataclass
class Decisions:
    decision: pa.Array
    dropped_by: pa.Array
    drop_reason: pa.Array
    stages_passed: pa.Array

    def columns(self) -> dict[str, pa.Array]:
        return {
            "decision": self.decision,
            "dropped_by": self.dropped_by,
            "drop_reason": self.drop_reason,
        }


def _array(column: Any) -> Any:
    return column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column


def rejected_mask(columns: Columns) -> Any:
    """Records that could not be read (a ``reject_reason``): no stage sees them."""
    if "reject_reason" in columns.schema.names:
        return pc.is_valid(_array(columns.column("reject_reason")))
    return pa.array(np.zeros(columns.num_rows, dtype=np.bool_))


def decide(
    stages: Sequence[Stage],
    columns: Columns,
    cutoffs: Mapping[str, Cutoff] | None = None,
    part: int = 0,
    rows: Any = None,
) -> Decisions:
    """The decisions of `stages` (in order) over `columns`; a stage with a cutoff in
    `cutoffs` also drops what falls below it (`rows`: each record's row, for ties; default
    0, 1, 2, ...). Raises `NotMeasuredError` when a record reaches a stage without its columns."""
    cutoffs = cutoffs or {}
    n = columns.num_rows
    if rows is None:
        rows = pa.array(np.arange(n, dtype=np.uint64))
    none = pa.scalar(None, pa.string())
    rejected = rejected_mask(columns)
    alive = pc.invert(rejected)
    dropped_by: Any = pa.nulls(n, pa.string())
    reason: Any = (
        _array(columns.column("reject_reason"))
        if "reject_reason" in columns.schema.names
        else pa.nulls(n, pa.string())
    )
    passed = np.zeros(n, dtype=np.int32)
    for stage in stages:
        names = stage_columns(stage)
        if names and names[0] not in columns.schema.names:
            raise NotMeasuredError(f"no column {names[0]!r} of stage {stage.name!r}")
        if names:
            unmeasured = pc.and_(alive, pc.is_null(_array(columns.column(names[0]))))
            missing = pc.sum(unmeasured).as_py() or 0
            if missing:
                raise NotMeasuredError(
                    f"{missing:,} records reach [{stage.name}] but were never measured there "
                    "(the run that scored them dropped them at an earlier stage)"
                )
        keep, why = stage.decide(columns)
        keep = pc.fill_null(_array(keep), False)
        why = _array(why)
        cutoff = cutoffs.get(stage.name)
        if cutoff is not None and stage.top_fraction is not None:
            ranked = cutoff.keeps(_array(stage.ranking(columns)), part, rows)
            below = stage.ranking_reason_at(cutoff)
            why = pc.if_else(pc.and_(keep, pc.invert(ranked)), below, why)
            keep = pc.and_(keep, ranked)
        dropped_here = pc.and_(alive, pc.invert(keep))
        dropped_by = pc.if_else(dropped_here, stage.name, dropped_by)
        reason = pc.if_else(dropped_here, pc.fill_null(why, "dropped"), reason)
        alive = pc.and_(alive, keep)
        passed += np.asarray(alive, dtype=np.int32)
    decision = pc.if_else(rejected, "rejected", pc.if_else(alive, "kept", "dropped"))
    stages_passed = np.where(np.asarray(rejected, dtype=bool), -1, passed).astype(np.int32)
    return Decisions(
        decision=decision,
        dropped_by=pc.if_else(rejected, none, dropped_by),
        drop_reason=reason,
        stages_passed=pa.array(stages_passed),
    )


def stage_columns(stage: Stage) -> list[str]:
    """The names of a stage's columns (empty when the stage does not say)."""
    return list(getattr(stage, "output_names", []) or [])


def find_cutoffs(
    stages: Sequence[Stage],
    parts: Callable[[], Iterable[tuple[int, Columns, Any]]],
) -> dict[str, Cutoff]:
    """The cutoff of every ranked stage over a whole run, in stage order (a ranking sees
    only what the stages and rankings before it keep). `parts()` yields ``(part, columns,
    rows)`` for every part of the run, in part order, and is called a few times per ranked
    stage (`find_cutoff`'s passes)."""
    cutoffs: dict[str, Cutoff] = {}
    for k, stage in enumerate(stages):
        if stage.top_fraction is None:
            continue
        read = [0]  # records read, counted by each pass

        def eligible(
            k: int = k, stage: Stage = stage, read: list[int] = read
        ) -> Iterator[tuple[int, Any, Any]]:
            read[0] = 0
            for part, columns, rows in parts():
                read[0] += columns.num_rows
                if rows is None:
                    rows = pa.array(np.arange(columns.num_rows, dtype=np.uint64))
                kept = pc.equal(
                    decide(stages[: k + 1], columns, cutoffs, part, rows).decision, "kept"
                )
                yield (
                    part,
                    pc.filter(_array(stage.ranking(columns)), kept),
                    pc.filter(_array(rows), kept),
                )

        reference = functools.partial(operator.itemgetter(0), read)
        of_corpus = stage.top_fraction_of == "corpus"
        cutoffs[stage.name] = find_cutoff(
            stage.top_fraction, eligible, reference if of_corpus else None
        )
    return cutoffs


def funnel(
    names: Sequence[str],
    decisions: Decisions,
    lengths: Any,
    seconds: Mapping[str, tuple[float, float]] | None = None,
) -> list[StageFunnel]:
    """Each stage's funnel line from the decisions: documents and bytes (`lengths`) in and
    out, drop reasons; `seconds` maps a stage to (setup seconds, seconds)."""
    seconds = seconds or {}
    passed = decisions.stages_passed
    lengths = _array(lengths)
    lines = []
    for k, name in enumerate(names):
        line = StageFunnel(name)
        reached = pc.greater_equal(passed, k)
        out = pc.greater_equal(passed, k + 1)
        line.docs_in = pc.sum(reached).as_py() or 0
        line.bytes_in = pc.sum(pc.filter(lengths, reached)).as_py() or 0
        line.docs_out = pc.sum(out).as_py() or 0
        line.bytes_out = pc.sum(pc.filter(lengths, out)).as_py() or 0
        here = pc.fill_null(pc.equal(decisions.dropped_by, name), False)
        counts = pc.value_counts(pc.filter(decisions.drop_reason, here))
        for value, count in zip(counts.field("values"), counts.field("counts"), strict=True):
            line.drop_reasons[value.as_py()] += count.as_py()
        line.setup_seconds, line.seconds = seconds.get(name, (0.0, 0.0))
        lines.append(line)
    return lines
