"""The run-wide top fraction in bounded memory (`find_cutoff`) equals sorting every record:
highest score first, ties by (part, row); whatever the parts, ties, nulls and signs, and
whichever passes the histograms take (small `COLLECT` forces the narrowing and tie passes)."""

from __future__ import annotations

import math
import tracemalloc
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastscan.cascade import ranking
from fastscan.cascade.decide import decide, find_cutoffs
from fastscan.cascade.ranking import Cutoff, find_cutoff
from fastscan.cascade.stages import Stage

# A few values close together (one 16-bit bucket), far apart, signed zeros, infinities.
SCORES = st.one_of(
    st.none(),
    st.sampled_from([0.0, -0.0, 1.0, 1.0 + 2**-40, 1.0 + 2**-41, -3.5, math.inf, -math.inf]),
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
)


def by_sorting(fraction: float, parts: list[tuple[int, list[float | None]]]) -> Cutoff:
    records = [
        (-(-math.inf if s is None else s + 0.0), p, r) for p, sc in parts for r, s in enumerate(sc)
    ]
    quota = math.ceil(fraction * len(records))
    if quota >= len(records):
        return Cutoff()
    negated, part, row = sorted(records)[quota - 1]
    return Cutoff(-negated + 0.0, part, row)


def as_parts(parts: Sequence[tuple[int, Sequence[float | None]]]) -> list[tuple[int, Any, Any]]:
    return [
        (p, pa.array(s, pa.float64()), pa.array(np.arange(len(s), dtype=np.uint64)))
        for p, s in parts
    ]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.lists(SCORES, max_size=12), min_size=1, max_size=5),
    st.floats(min_value=0.01, max_value=1.0),
    st.sampled_from([0, 1, 3, 1 << 20]),
)
def test_find_cutoff_equals_a_sort(
    scores: list[list[float | None]], fraction: float, collect: int
) -> None:
    parts = [(2 * i + 1, s) for i, s in enumerate(scores)]  # part numbers need not be dense
    expected = by_sorting(fraction, parts)
    was = ranking.COLLECT
    ranking.COLLECT = collect
    passes = 0

    def counted() -> list[tuple[int, Any, Any]]:
        nonlocal passes
        passes += 1
        return as_parts(parts)

    try:
        got = find_cutoff(fraction, counted)
    finally:
        ranking.COLLECT = was
    assert got == expected
    if collect == 1 << 20:
        assert passes <= 2


def test_many_equal_scores_are_cut_in_part_and_row_order() -> None:
    parts = [(0, [2.0] * 5), (1, [2.0] * 5 + [3.0]), (2, [2.0] * 5)]
    was = ranking.COLLECT
    ranking.COLLECT = 2
    try:
        # 16 records: the top 50% is 8: the 3.0, then the first seven 2.0s.
        assert find_cutoff(0.5, lambda: as_parts(parts)) == Cutoff(2.0, 1, 1)
    finally:
        ranking.COLLECT = was


def test_parts_must_come_in_order() -> None:
    parts = [(1, [2.0] * 3), (0, [2.0] * 3)]
    was = ranking.COLLECT
    ranking.COLLECT = 0
    try:
        with pytest.raises(ValueError, match="increasing order"):
            find_cutoff(0.5, lambda: as_parts(parts))
    finally:
        ranking.COLLECT = was


def test_memory_does_not_grow_with_the_run() -> None:
    """A million records in 20 parts (24 MB as score, part and row for every record): the
    ranking holds one part at a time and a histogram."""
    seeds = list(range(20))

    def parts() -> Any:
        for p in seeds:
            scores = np.random.default_rng(p).normal(size=50_000)
            yield p, pa.array(scores), pa.array(np.arange(len(scores), dtype=np.uint64))

    find_cutoff(0.1, lambda: [next(parts())])  # one-time costs (pyarrow imports pandas)
    tracemalloc.start()
    try:
        cutoff = find_cutoff(0.1, parts)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    everything = np.concatenate([np.random.default_rng(p).normal(size=50_000) for p in seeds])
    assert cutoff.value == np.sort(everything)[::-1][100_000 - 1]
    assert peak < 8 << 20, f"peak {peak / 2**20:.1f} MiB"


# ---- decide over a run, against a plain per-record reference ----


class ColumnStage(Stage):
    """A test stage: keeps a record whose column `name` is at least `minimum`, and ranks by
    it when it has a `top_fraction`."""

    def __init__(
        self, name: str, minimum: float | None, top_fraction: float | None, of: str
    ) -> None:
        self.name = name
        self.minimum = minimum
        self.top_fraction = top_fraction
        self.top_fraction_of = of
        self.output_names = [name]

    def decide(self, columns: Any) -> tuple[Any, Any]:
        value = columns.column(self.name)
        if self.minimum is None:
            keep = pc.is_valid(value)
        else:
            keep = pc.fill_null(pc.greater_equal(value, self.minimum), False)
        return keep, pc.if_else(keep, pa.scalar(None, pa.string()), f"{self.name} low")

    def ranking(self, columns: Any) -> Any:
        return columns.column(self.name)


def reference(
    stages: list[ColumnStage], parts: list[list[dict[str, Any]]]
) -> list[list[tuple[str, str | None]]]:
    """Each record's (decision, dropped_by), record by record: the thresholds in order, and a
    top fraction keeping ceil(fraction * reference) of the records alive at it, highest
    first, ties by (part, row); the reference is every record read (the corpus) or those
    ranked (the stage)."""
    read = sum(len(p) for p in parts)
    state: list[list[tuple[str, str | None]]] = [
        [("rejected", None) if r["rejected"] else ("kept", None) for r in part] for part in parts
    ]
    for stage in stages:
        ranked = []
        for p, part in enumerate(parts):
            for i, record in enumerate(part):
                if state[p][i][0] != "kept":
                    continue
                value = record[stage.name]
                if stage.minimum is not None and value < stage.minimum:
                    state[p][i] = ("dropped", stage.name)
                    continue
                ranked.append((-value, p, i))
        if stage.top_fraction is None:
            continue
        base = read if stage.top_fraction_of == "corpus" else len(ranked)
        quota = math.ceil(stage.top_fraction * base)
        for _, p, i in sorted(ranked)[quota:]:
            state[p][i] = ("dropped", stage.name)
    return state


STAGES = st.lists(
    st.tuples(
        st.one_of(st.none(), st.sampled_from([0.0, 1.0, 2.0])),
        st.one_of(st.none(), st.sampled_from([0.1, 0.25, 0.5, 0.9, 1.0])),
        st.sampled_from(["corpus", "stage"]),
    ),
    min_size=1,
    max_size=3,
)


@settings(max_examples=150, deadline=None)
@given(
    stages=STAGES,
    parts=st.lists(
        st.lists(
            st.tuples(
                st.booleans(),
                st.lists(st.sampled_from([0.0, 0.5, 1.0, 1.0, 2.0, 3.0]), min_size=3, max_size=3),
            ),
            max_size=12,
        ),
        min_size=1,
        max_size=3,
    ),
)
def test_decide_over_a_run_equals_a_per_record_reference(
    stages: list[tuple[float | None, float | None, str]],
    parts: list[list[tuple[bool, list[float]]]],
) -> None:
    built = [ColumnStage(f"s{k}", *spec) for k, spec in enumerate(stages)]
    records = [
        [
            {"rejected": rejected, **{f"s{k}": v for k, v in enumerate(values)}}
            for rejected, values in part
        ]
        for part in parts
    ]
    tables = []
    for part in records:
        columns: dict[str, Any] = {
            "reject_reason": pa.array(
                [("bad" if r["rejected"] else None) for r in part], pa.string()
            )
        }
        for stage in built:
            columns[stage.name] = pa.array(
                [None if r["rejected"] else r[stage.name] for r in part], pa.float64()
            )
        tables.append(pa.table(columns))

    def run_parts() -> Any:
        for p, table in enumerate(tables):
            yield p, table, pa.array(np.arange(table.num_rows, dtype=np.uint64))

    cutoffs = find_cutoffs(built, run_parts)
    got = []
    for p, table in enumerate(tables):
        rows = pa.array(np.arange(table.num_rows, dtype=np.uint64))
        d = decide(built, table, cutoffs, p, rows)
        got.append(list(zip(d.decision.to_pylist(), d.dropped_by.to_pylist(), strict=True)))
    assert got == reference(built, records)
