"""Per-stage score distributions and hits among kept documents, from a shard's scores file.

Each stage with a score has a fixed histogram (so shards merge by adding): the documents that
reached the stage, split into those it kept and those it dropped. Computed from the scores
batches as they are decided (in phase 1 without a ranking, in phase 2 with one), stored in
the shard's entry, summed for the report.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

# stage -> (score column, first bin's lower edge, last bin's lower edge, bin width). Values
# below the first edge count in the first bin, values above the last edge in the last.
SPECS: dict[str, tuple[str, float, float, float]] = {
    "patterns": ("score", 0.0, 30.0, 0.5),
    "dsir": ("log_importance", -40.0, 40.0, 1.0),
    "static": ("static_similarity", -0.2, 1.0, 0.025),
    "semantic": ("similarity", -0.2, 1.0, 0.025),
}


def bins(stage: str) -> int:
    _, low, high, width = SPECS[stage]
    return round((high - low) / width) + 1


def summarize(table: pa.RecordBatch | pa.Table, min_hits: dict[str, int]) -> dict[str, Any]:
    """The summary of decided scores rows (a batch of a shard's scores): distributions per
    stage, group / format hits among the kept documents. Summaries add up with `merge`."""
    names = table.schema.names
    decision = table.column("decision")
    scored = pc.not_equal(decision, "rejected")
    dropped_by = table.column("dropped_by") if "dropped_by" in names else None
    distributions: dict[str, Any] = {}
    for stage, (column, low, _, width) in SPECS.items():
        if column not in names:
            continue
        values = table.column(column)
        reached = scored if stage == "patterns" else pc.is_valid(values)
        if dropped_by is not None:
            dropped = pc.fill_null(pc.equal(dropped_by, stage), False)
        else:
            dropped = pc.equal(decision, "dropped")
        index = pc.cast(pc.floor(pc.divide(pc.subtract(values, low), width)), pa.int64())
        index = pc.min_element_wise(pc.max_element_wise(index, 0), bins(stage) - 1)
        split = {}
        for name, mask in (
            ("kept", pc.and_(reached, pc.invert(dropped))),
            ("dropped", pc.and_(reached, dropped)),
        ):
            counts = [0] * bins(stage)
            chosen = pc.value_counts(pc.drop_null(pc.filter(index, mask)))
            for v, c in zip(chosen.field("values"), chosen.field("counts"), strict=True):
                counts[v.as_py()] += c.as_py()
            split[name] = counts
        distributions[stage] = {"column": column, "low": low, "width": width, **split}
    kept = pc.equal(decision, "kept")
    group_hits = {
        group: int(
            pc.sum(pc.and_(kept, pc.greater_equal(table.column(group), max(t, 1)))).as_py() or 0
        )
        for group, t in min_hits.items()
        if group in names
    }
    format_hits: dict[str, int] = {}
    if "formats" in names:
        flat = pc.list_flatten(pc.filter(table.column("formats"), kept))
        counts = pc.value_counts(flat)
        for v, c in zip(counts.field("values"), counts.field("counts"), strict=True):
            format_hits[v.as_py()] = c.as_py()
    return {
        "distributions": distributions,
        "kept_group_hits": group_hits,
        "kept_format_hits": dict(sorted(format_hits.items())),
    }


def merge(summaries: list[dict[str, Any]]) -> dict[str, Any]:
    """The sum of shard summaries."""
    out: dict[str, Any] = {"distributions": {}, "kept_group_hits": {}, "kept_format_hits": {}}
    for summary in summaries:
        for stage, dist in summary["distributions"].items():
            into = out["distributions"].setdefault(
                stage, {**dist, "kept": [0] * len(dist["kept"]), "dropped": [0] * len(dist["kept"])}
            )
            for side in ("kept", "dropped"):
                into[side] = [a + b for a, b in zip(into[side], dist[side], strict=True)]
        for key in ("kept_group_hits", "kept_format_hits"):
            for name, count in summary[key].items():
                out[key][name] = out[key].get(name, 0) + count
    out["kept_format_hits"] = dict(sorted(out["kept_format_hits"].items()))
    return out
