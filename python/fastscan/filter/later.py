"""The stages after the patterns, run on one shard's survivors (a second, small pass).

Stage 1 (the Rust pass over the whole shard) writes the records it keeps to the shard's staging
directory: verbatim JSONL lines, or Parquet rows with the input schema. This module reads those
survivors back, runs the configured later stages on their texts (`Cascade`), writes the records
every stage keeps in the requested output format, and rewrites the shard's scores file so each
record carries every stage's columns, its final decision, ``dropped_by`` and ``drop_reason``.
Survivors are held in memory, one shard at a time: stage 1 keeps a small share of a corpus.
A ``top_fraction`` selection ranks within one shard's survivors.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from fastscan import _fastscan
from fastscan.cascade import Cascade, StageFunnel
from fastscan.cascade.cascade import Watcher, spread
from fastscan.cascade.stages import pattern_drop_reasons
from fastscan.corpus import field_at
from fastscan.filter.context import Context
from fastscan.filter.outputs import (
    KeptRows,
    batch_texts,
    input_compression,
    jsonl_to_parquet,
    kept_name,
    open_bytes_writer,
)
from fastscan.filter.plan import Shard
from fastscan.filter.tally import Tally

SURVIVORS = "survivors"


class PatternFunnel:
    """Stage 1's funnel line: its counts come from the shard's `Tally`; only when the keep
    rule requires groups does a dropped record need telling apart (score or group)."""

    def __init__(self, min_score: float, require: tuple[str, ...]) -> None:
        self.min_score = min_score
        self.require = require
        self.missing_group = 0

    def add(self, batch: pa.RecordBatch) -> None:
        if self.require:
            dropped = pc.equal(batch.column("decision"), "dropped")
            scored_enough = pc.greater_equal(batch.column("score"), self.min_score)
            self.missing_group += pc.sum(pc.and_(dropped, scored_enough)).as_py() or 0

    def line(self, tally: Tally, seconds: float) -> StageFunnel:
        line = StageFunnel("patterns", seconds=seconds)
        line.docs_in = tally.docs["kept"] + tally.docs["dropped"]
        line.bytes_in = tally.bytes["kept"] + tally.bytes["dropped"]
        line.docs_out = tally.docs["kept"]
        line.bytes_out = tally.bytes["kept"]
        below = tally.docs["dropped"] - self.missing_group
        low, missing = pattern_drop_reasons(self.min_score, self.require)
        if below:
            line.drop_reasons[low] = below
        if self.missing_group:
            line.drop_reasons[missing] = self.missing_group
        return line


def _text_of(line: bytes, field: str) -> str:
    return str(field_at(json.loads(line), field))


def _lines(data: bytes) -> list[bytes]:
    """Lines ending at each `\n` (kept), as stage 1 reads them: a `\r` alone is no line end."""
    parts = data.split(b"\n")
    lines = [part + b"\n" for part in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def run_later_stages(
    shard: Shard,
    ctx: Context,
    stage_dir: Path,
    survivors: Path,
    tally: Tally,
    funnel: list[StageFunnel],
    watch: Watcher,
) -> list[Path]:
    """Runs the later stages on `survivors`, appending their lines to `funnel`; rewrites
    ``stage_dir/scores.parquet`` and moves the records they drop from kept to dropped in
    `tally`. Returns the final kept files (under ``stage_dir/kept``)."""
    cfg = ctx.config
    fmt, _ = kept_name(shard, cfg)
    rows: pa.RecordBatch | None = None
    schema: pa.Schema | None = None
    lines: list[bytes] = []
    if shard.format == "jsonl":
        lines = _lines(survivors.read_bytes())
        texts = pa.array([_text_of(line, cfg.text_field) for line in lines], pa.large_string())
    else:
        table = pq.read_table(survivors)
        schema = table.schema
        rows = table.combine_chunks().to_batches()[0] if table.num_rows else None
        if rows is None:
            texts = pa.array([], pa.large_string())
        else:
            texts, _ = batch_texts(rows, cfg, ctx.tokenizer)
    # The funnel counts what stage 1 counted: the JSONL lines' bytes, Parquet texts' bytes.
    sizes = [len(line) for line in lines] if shard.format == "jsonl" else None
    result = Cascade(cfg.later_stages()).run(texts, sizes, watch)
    funnel.extend(result.funnel)
    keep = result.kept
    kept_dir = stage_dir / "kept"
    files: list[Path] = []
    if shard.format == "jsonl":
        kept_lines = [line for line, k in zip(lines, keep.to_pylist(), strict=True) if k]
        if fmt == "lmflow":
            writer = _fastscan.LmflowWriter(
                kept_dir, Path(shard.relative).name, cfg.lmflow_shard_mb << 20
            )
            writer.write_arrow(pc.filter(texts, keep))
            files = [Path(p) for p in writer.finish()]
        elif fmt == "jsonl":
            path = kept_dir / "part"
            with open_bytes_writer(path, cfg.output_compression or input_compression(shard)) as f:
                for line in kept_lines:
                    f.write(line)
            files = [path]
        else:
            plain = stage_dir / "kept.jsonl"
            plain.write_bytes(b"".join(kept_lines))
            files = [jsonl_to_parquet(plain, kept_dir / "part")]
    else:
        assert schema is not None
        out = KeptRows(fmt, kept_dir, shard, cfg, schema)
        try:
            if rows is not None:
                out.write(rows, texts, keep)
        finally:
            files = out.close()
    survivors.unlink()
    docs, size = _rewrite_scores(
        stage_dir / "scores.parquet", result.table, cfg.min_score, cfg.require
    )
    # Only kept -> dropped moves: group, format and score counts are over every scored record.
    tally.docs["kept"] -= docs
    tally.docs["dropped"] += docs
    tally.bytes["kept"] -= size
    tally.bytes["dropped"] += size
    return files


def _rewrite_scores(
    path: Path, later: pa.Table, min_score: float, require: tuple[str, ...]
) -> tuple[int, int]:
    """Adds the later stages' columns and the final decisions to a shard's scores file;
    returns the documents (and their bytes) that stage 1 kept and a later stage dropped."""
    scores = pq.read_table(path).combine_chunks()
    columns = final_columns(scores, later, min_score, require)
    table = pa.table(columns).replace_schema_metadata(scores.schema.metadata)
    pq.write_table(table, path, compression="zstd")
    survivor = pc.equal(scores.column("decision"), "kept")
    moved = pc.and_(survivor, pc.equal(columns["decision"], "dropped"))
    docs = pc.sum(moved).as_py() or 0
    size = pc.sum(pc.filter(scores.column("length"), moved)).as_py() or 0
    return docs, size


def final_columns(
    scores: pa.Table | pa.RecordBatch, later: pa.Table, min_score: float, require: Sequence[str]
) -> dict[str, pa.Array | pa.ChunkedArray]:
    """Stage 1's scores (`scores`, every record) and the later stages' table (`later`, one row
    per stage-1 survivor, in order) as one set of columns: stage 1's, the later stages' spread
    over every record (null where stage 1 did not keep it), then the final ``decision``,
    ``dropped_by`` and ``drop_reason``. The one place these are decided, for the scores files
    and for `BatchScorer`."""
    decision = scores.column("decision")
    survivor = pc.equal(decision, "kept")  # stage 1's survivors, in the order `later` has them
    final = pc.if_else(survivor, spread(later.column("decision"), survivor), decision)
    stage1_dropped = pc.equal(decision, "dropped")
    below = pc.less(scores.column("score"), min_score)
    none = pa.scalar(None, pa.string())
    dropped_by = pc.if_else(
        survivor,
        spread(later.column("dropped_by"), survivor),
        pc.if_else(stage1_dropped, "patterns", none),
    )
    reasons = pc.if_else(
        survivor,
        spread(later.column("drop_reason"), survivor),
        pc.if_else(
            stage1_dropped,
            pc.if_else(below, *pattern_drop_reasons(min_score, require)),
            none,
        ),
    )
    skip = {"decision", "dropped_by", "drop_reason", "stages_passed"}
    columns = {name: scores.column(name) for name in scores.schema.names if name != "decision"}
    for name in later.schema.names:
        if name not in skip:
            columns[name] = spread(later.column(name), survivor)
    columns.update(decision=final, dropped_by=dropped_by, drop_reason=reasons)
    return columns
