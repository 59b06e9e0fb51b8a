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
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from fastscan import _fastscan
from fastscan.cascade import Cascade, StageFunnel
from fastscan.filter.plan import Shard
from fastscan.filter.tally import Tally

if TYPE_CHECKING:
    from fastscan.filter.shard import Context

SURVIVORS = "survivors"


class PatternFunnel:
    """Stage 1's funnel line, counted from the scores batches as they stream."""

    def __init__(self, min_score: float) -> None:
        self.min_score = min_score
        self.line = StageFunnel("patterns")

    def add(self, batch: pa.RecordBatch) -> None:
        decision = batch.column("decision")
        length = batch.column("length")
        scored = pc.not_equal(decision, "rejected")
        kept = pc.equal(decision, "kept")
        dropped = pc.equal(decision, "dropped")
        self.line.docs_in += pc.sum(scored).as_py() or 0
        self.line.bytes_in += pc.sum(pc.filter(length, scored)).as_py() or 0
        self.line.docs_out += pc.sum(kept).as_py() or 0
        self.line.bytes_out += pc.sum(pc.filter(length, kept)).as_py() or 0
        below = pc.sum(pc.and_(dropped, pc.less(batch.column("score"), self.min_score))).as_py()
        other = (pc.sum(dropped).as_py() or 0) - (below or 0)
        if below:
            self.line.drop_reasons[self.below_reason] += below
        if other:
            self.line.drop_reasons["missing required group"] += other

    @property
    def below_reason(self) -> str:
        return f"pattern score < {self.min_score:g}"


def _text_of(line: bytes, field: str) -> str:
    value: Any = json.loads(line)
    for part in field.split("."):
        value = value[part]
    return str(value)


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
) -> tuple[list[Path], Tally]:
    """Runs the later stages on `survivors`, appending their lines to `funnel`; rewrites
    ``stage_dir/scores.parquet``. Returns the final kept files (under ``stage_dir/kept``) and
    the shard's counts by final decision (`tally`'s blank lines carried over)."""
    from fastscan.filter.shard import (
        KeptRows,
        column_at,
        input_compression,
        jsonl_to_parquet,
        kept_name,
        open_bytes_writer,
    )

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
            column = column_at(rows, cfg.text_field)
            if column is None:
                assert ctx.tokenizer is not None
                column, _ = ctx.tokenizer.decode_arrow(rows.column(cfg.tokens_field))
            texts = column
    # The funnel counts what stage 1 counted: the JSONL lines' bytes, Parquet texts' bytes.
    sizes = [len(line) for line in lines] if shard.format == "jsonl" else None
    result = Cascade(cfg.later_stages()).run(texts, sizes)
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
    recount = _rewrite_scores(stage_dir / "scores.parquet", result.table, cfg.min_score, ctx)
    recount.blank_lines = tally.blank_lines
    return files, recount


def _rewrite_scores(path: Path, later: pa.Table, min_score: float, ctx: Context) -> Tally:
    """Adds the later stages' columns and the final decisions to a shard's scores file;
    returns the counts of the final decisions."""
    scores = pq.read_table(path)
    decision = scores.column("decision").to_pylist()
    survivor_rows = [i for i, d in enumerate(decision) if d == "kept"]
    n = scores.num_rows
    index: list[int | None] = [None] * n
    for at, row in enumerate(survivor_rows):
        index[row] = at
    take = pa.array(index, pa.int64())
    score = scores.column("score").to_pylist()
    final = later.column("decision").to_pylist()
    later_by = later.column("dropped_by").to_pylist()
    later_reason = later.column("drop_reason").to_pylist()
    dropped_by: list[str | None] = []
    reasons: list[str | None] = []
    for i in range(n):
        j = index[i]
        if j is not None:  # a survivor of stage 1: the later stages decided
            decision[i] = final[j]
            dropped_by.append(later_by[j])
            reasons.append(later_reason[j])
        elif decision[i] == "dropped":
            dropped_by.append("patterns")
            below = score[i] < min_score
            reasons.append(f"pattern score < {min_score:g}" if below else "missing required group")
        else:
            dropped_by.append(None)
            reasons.append(None)
    skip = {"decision", "dropped_by", "drop_reason", "stages_passed"}
    columns = {name: scores.column(name) for name in scores.schema.names if name != "decision"}
    for name in later.schema.names:
        if name not in skip:
            columns[name] = later.column(name).take(take)
    columns["decision"] = pa.chunked_array([pa.array(decision, pa.string())])
    columns["dropped_by"] = pa.chunked_array([pa.array(dropped_by, pa.string())])
    columns["drop_reason"] = pa.chunked_array([pa.array(reasons, pa.string())])
    table = pa.table(columns).replace_schema_metadata(scores.schema.metadata)
    pq.write_table(table, path, compression="zstd")
    recount = Tally()
    for b in table.to_batches():
        recount.add(b, ctx.min_hits)
    return recount
