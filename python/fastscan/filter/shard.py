"""Running one shard: read, judge, write to a staging directory, then commit.

Outputs of a shard are written under ``OUT/_tmp/<relative path>/`` and moved into place only
when the shard is complete; its completion marker ``OUT/_done/<relative path>.json`` (the
shard's report entry) is written last. A killed run therefore leaves either a finished shard
(marker present, outputs complete) or nothing that a rerun does not replace.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from fastscan import _fastscan
from fastscan.filter.context import Context
from fastscan.filter.distributions import summarize
from fastscan.filter.guard import FirstRecords, no_text_message
from fastscan.filter.later import SURVIVORS, PatternFunnel, run_later_stages
from fastscan.filter.outdir import input_identity, inside
from fastscan.filter.outputs import (
    KeptRows,
    ShardError,
    batch_texts,
    input_compression,
    json_line,
    jsonl_to_parquet,
    kept_name,
    open_text_writer,
    rejects_name,
)
from fastscan.filter.plan import Shard
from fastscan.filter.progress import Silent
from fastscan.filter.tally import Tally
from fastscan.terminal import Interrupted

# Rows per Parquet batch: large enough to amortise the call, small enough to bound memory.
PARQUET_BATCH_ROWS = 8192


def staging_dir(out: Path, shard: Shard, run_id: str) -> Path:
    """Where a shard's outputs are written before they are committed: one directory per run,
    so two runs (or a run and a killed one's leftovers) never share a file, named by a hash
    of the shard's relative path (short and ASCII whatever the input's name)."""
    key = hashlib.sha256(os.fsencode(shard.relative)).hexdigest()[:20]
    return out / "_tmp" / run_id / key


def marker_path(out: Path, shard: Shard) -> Path:
    return out / "_done" / f"{shard.relative}.json"


STAGED_REJECTS = "rejects"


def run_shard(shard: Shard, ctx: Context, watch: Silent) -> dict[str, Any]:
    """Filters one shard and commits its outputs; returns its report entry. `watch` hears of
    its progress and may stop it by raising (`Interrupted`).

    Raises `ShardError` (or `OSError`) when the shard fails; its staging is then removed.
    """
    stage = staging_dir(ctx.out, shard, ctx.run_id)
    _check_targets(shard, ctx, stage)
    identity = input_identity(shard.path)  # before reading: a change during the run shows
    if stage.exists():
        shutil.rmtree(stage)
    (stage / "kept").mkdir(parents=True)
    started = time.perf_counter()
    tally = Tally()
    patterns = PatternFunnel(ctx.config.min_score, ctx.config.require)
    try:
        if shard.format == "jsonl":
            kept_files = _run_jsonl(shard, ctx, stage, tally, patterns, watch)
        elif shard.format == "parquet":
            kept_files = _run_parquet(shard, ctx, stage, tally, patterns, watch)
        else:
            raise ShardError(
                f"unknown file type {shard.suffix!r}: expected .jsonl, .json, .jsonl.gz, "
                ".jsonl.zst or .parquet"
            )
        funnel = [patterns.line(tally, time.perf_counter() - started)]
        if ctx.config.cascades:
            kept_files = run_later_stages(shard, ctx, stage, kept_files[0], tally, funnel, watch)
        tally.check()
        seconds = time.perf_counter() - started
        entry = shard_entry(shard, tally, seconds)
        entry["input"] = identity
        entry["funnel"] = [line.to_dict() for line in funnel]
        entry["summary"] = summarize(str(stage / "scores.parquet"), ctx.min_hits)
        entry["outputs"] = _commit(shard, ctx, stage, kept_files)
        _write_atomic(marker_path(ctx.out, shard), json.dumps(entry, indent=1).encode())
        return entry
    finally:
        shutil.rmtree(stage, ignore_errors=True)


# The longest file name most file systems take, in bytes.
NAME_MAX = 255


def _check_targets(shard: Shard, ctx: Context, stage: Path) -> None:
    """Every path the shard will write stays inside OUT and has names the file system takes;
    checked before anything is written."""
    _, kept_rel = kept_name(shard, ctx.config)
    targets = [
        stage / "kept" / "part",
        ctx.out / "kept" / kept_rel,
        ctx.out / "scores" / f"{shard.relative}.parquet",
        ctx.out / "rejects" / rejects_name(shard)[1],
        marker_path(ctx.out, shard),
    ]
    for target in targets:
        if not inside(ctx.out, target):
            raise ShardError(f"output path {target} would lie outside {ctx.out}")
        for part in target.relative_to(ctx.out).parts:
            if len(os.fsencode(part)) > NAME_MAX - 16:  # room for staging suffixes
                raise ShardError(
                    f"output file name {part[:60]!r}... is {len(os.fsencode(part))} bytes; "
                    f"the limit is {NAME_MAX - 16} (rename the input)"
                )


def attempt_shard(shard: Shard, ctx: Context, watch: Silent) -> dict[str, Any]:
    """`run_shard`, with a failure turned into the shard's entry (status ``failed``).

    Failures are bad input (`ShardError`, `ValueError`), I/O (`OSError`) and a later stage's
    runtime trouble (`RuntimeError`: torch's out-of-memory, a broken model file); anything
    else a shard raises fails that shard too, named by its type, so one bad file never ends
    the run. Only an interrupt (`Interrupted`) stops it.
    """
    began = time.perf_counter()
    try:
        return run_shard(shard, ctx, watch)
    except (ShardError, OSError, ValueError, RuntimeError) as e:
        return failed_entry(shard, str(e), time.perf_counter() - began)
    except Interrupted:
        raise
    except Exception as e:
        message = f"{type(e).__name__}: {e}"
        return failed_entry(shard, message, time.perf_counter() - began)


def failed_entry(shard: Shard, error: str, seconds: float) -> dict[str, Any]:
    """The entry of a shard that failed: no outputs, zero counts, the error."""
    entry = shard_entry(shard, Tally(), seconds)
    entry.update(status="failed", error=error, outputs=None)
    return entry


def shard_entry(shard: Shard, tally: Tally, seconds: float) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "path": str(shard.path),
        "relative": shard.relative,
        "format": shard.format,
        "input_bytes": shard.size,
        "status": "ok",
        "error": None,
    }
    entry.update(tally.to_dict())
    entry["seconds"] = round(seconds, 6)
    text_mb = entry["read"]["bytes"] / 1e6
    entry["mb_per_s"] = round(text_mb / seconds, 3) if seconds > 0 else None
    return entry


def _run_jsonl(
    shard: Shard,
    ctx: Context,
    stage: Path,
    tally: Tally,
    patterns: PatternFunnel,
    watch: Silent,
) -> list[Path]:
    cfg = ctx.config
    fmt, _ = kept_name(shard, cfg)
    kept_args: dict[str, Any]
    if cfg.cascades:  # survivors for the later stages, verbatim
        kept_args = {"kept_path": stage / SURVIVORS, "kept_compression": "none"}
    elif fmt == "lmflow":
        kept_args = {
            "lmflow_dir": stage / "kept",
            "lmflow_stem": Path(shard.relative).name,
            "lmflow_max_bytes": cfg.lmflow_shard_mb << 20,
        }
    elif fmt == "jsonl":
        compression = cfg.output_compression or input_compression(shard)
        kept_args = {"kept_path": stage / "kept" / "part", "kept_compression": compression}
    else:  # parquet: kept lines first, converted below
        kept_args = {"kept_path": stage / "kept.jsonl", "kept_compression": "none"}
    reader = _fastscan.JsonlShard(
        ctx.scanner._inner,
        shard.path,
        rejects_path=stage / STAGED_REJECTS,
        rejects_compression=rejects_name(shard)[0],
        text_field=cfg.text_field,
        min_score=cfg.min_score,
        require=list(cfg.require),
        block_bytes=cfg.block_mb << 20,
        max_record_bytes=cfg.max_record_mb << 20,
        **kept_args,
    )
    writer = _ScoresWriter(stage / "scores.parquet", ctx)
    first = FirstRecords(lambda _, n: no_text_message(shard.path, cfg.text_field, n), ShardError)
    consumed = 0
    try:
        for batch in reader:
            first.observe(batch.column("reject_reason"))
            writer.write(batch)
            before = tally.read_bytes
            tally.add(batch, ctx.min_hits)
            patterns.add(batch)
            now = reader.consumed
            watch.advance(now - consumed, batch.num_rows, tally.read_bytes - before)
            consumed = now
        first.finish()
        tally.blank_lines = reader.blank_lines
        files = reader.finish()
    finally:
        writer.close()
    kept = [Path(p) for p in files["kept"]]
    if fmt == "parquet" and not cfg.cascades:
        kept = [jsonl_to_parquet(kept[0], stage / "kept" / "part")]
    return kept


class _ScoresWriter:
    """Streams scores batches into ``scores.parquet`` (created even for an empty shard)."""

    def __init__(self, path: Path, ctx: Context) -> None:
        self.path = path
        self.ctx = ctx
        self.writer: pq.ParquetWriter | None = None

    def write(self, batch: pa.RecordBatch) -> None:
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.path, batch.schema, compression="zstd")
        self.writer.write_batch(batch)

    def close(self) -> None:
        if self.writer is None:
            empty = self.ctx.scanner._inner.judge_arrow(pa.array([], pa.string()))
            self.writer = pq.ParquetWriter(self.path, empty.schema, compression="zstd")
        self.writer.close()


def _run_parquet(
    shard: Shard,
    ctx: Context,
    stage: Path,
    tally: Tally,
    patterns: PatternFunnel,
    watch: Silent,
) -> list[Path]:
    # Opened by Python: pyarrow's own paths must be UTF-8, file names need not be.
    with open(shard.path, "rb") as handle:
        return _scan_parquet(handle, shard, ctx, stage, tally, patterns, watch)


def _scan_parquet(
    handle: Any,
    shard: Shard,
    ctx: Context,
    stage: Path,
    tally: Tally,
    patterns: PatternFunnel,
    watch: Silent,
) -> list[Path]:
    cfg = ctx.config
    fmt, _ = kept_name(shard, cfg)
    try:
        # No pre-buffering: pyarrow would otherwise hold whole column chunks (~700 MB of a
        # 2 GB shard); batches are read a row group's pages at a time.
        source = pq.ParquetFile(handle, pre_buffer=False)
    except (pa.ArrowInvalid, OSError) as e:
        raise ShardError(f"not a readable Parquet file: {e}") from e
    names = source.schema_arrow.names
    for name in {cfg.text_field.split(".")[0], cfg.tokens_field}:
        if names.count(name) > 1:
            raise ShardError(f"the file has {names.count(name)} columns named {name!r}")
    top = cfg.text_field.split(".")[0]
    use_tokens = top not in names and cfg.tokens_field in names
    if not use_tokens and top not in names:
        raise ShardError(
            f"no text column {cfg.text_field!r} (nor token column {cfg.tokens_field!r}); "
            f"columns: {', '.join(names)}"
        )
    if use_tokens and ctx.tokenizer is None:
        raise ShardError(
            f"column {cfg.tokens_field!r} holds token ids: pass --tokenizer tokenizer.json"
        )
    scores = _ScoresWriter(stage / "scores.parquet", ctx)
    if cfg.cascades:  # survivors for the later stages, with the input schema
        (stage / SURVIVORS).mkdir()
        kept_out = KeptRows("parquet", stage / SURVIVORS, shard, cfg, source.schema_arrow)
    else:
        kept_out = KeptRows(fmt, stage / "kept", shard, cfg, source.schema_arrow)
    rejects = _ParquetRejects(stage / STAGED_REJECTS)
    per_row = shard.size / max(source.metadata.num_rows, 1)
    unknown: list[int | None] = []

    def explain(kind: str, n: int) -> str:
        if kind == "tokens":
            assert ctx.tokenizer is not None
            return (
                f"every one of the first {n:,} rows holds token ids outside the vocabulary of "
                f"{cfg.tokenizer} ({ctx.tokenizer.vocab_size:,} tokens; unknown ids such as "
                f"{', '.join(map(str, unknown[:3]))}): give the tokenizer the corpus was "
                "tokenized with (--tokenizer)"
            )
        return f"none of the first {n:,} rows has a string in column {cfg.text_field!r}"

    first = FirstRecords(explain, ShardError)
    row = 0
    try:
        for batch in source.iter_batches(batch_size=PARQUET_BATCH_ROWS):
            texts, bad = batch_texts(batch, cfg, ctx.tokenizer)
            unknown.extend(i for _, i in bad[: max(0, 3 - len(unknown))])
            try:
                judged = ctx.scanner._inner.judge_arrow(
                    texts,
                    first_row=row,
                    min_score=cfg.min_score,
                    require=list(cfg.require),
                    invalid_tokens=[i for i, _ in bad],
                )
            except TypeError as e:  # the core names the six string/binary types it reads
                raise ShardError(f"text column {cfg.text_field!r}: {e}") from e
            first.observe(judged.column("reject_reason"))
            scores.write(judged)
            before = tally.read_bytes
            tally.add(judged, ctx.min_hits)
            patterns.add(judged)
            decision = judged.column("decision")
            kept_out.write(batch, texts, pc.equal(decision, "kept"))
            rejects.write(batch, judged, dict(bad), row)
            row += batch.num_rows
            watch.advance(int(per_row * batch.num_rows), batch.num_rows, tally.read_bytes - before)
        first.finish()
    finally:
        scores.close()
        files = kept_out.close()
        rejects.close()
    return files


class _ParquetRejects:
    """Rejected Parquet rows: the row (as JSON), the reason, and the detail."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.file: Any = None

    def write(
        self,
        batch: pa.RecordBatch,
        judged: pa.RecordBatch,
        bad: dict[int, int | None],
        first_row: int,
    ) -> None:
        reasons = judged.column("reject_reason")
        if reasons.null_count == len(reasons):
            return
        if self.file is None:
            self.file = open_text_writer(self.path, "zstd")
        for i, reason in enumerate(reasons.to_pylist()):
            if reason is None:
                continue
            if i not in bad:
                detail = "the text cell is null"
            elif bad[i] is None:
                detail = "a token id in the list is null"
            else:
                detail = f"token id {bad[i]} is not in the vocabulary"
            record = batch.slice(i, 1).to_pylist()[0]
            line = {"row": first_row + i, "reason": reason, "detail": detail, "record": record}
            self.file.write(json_line(line) + "\n")

    def close(self) -> None:
        if self.file is not None:
            self.file.close()


def _commit(shard: Shard, ctx: Context, stage: Path, kept_files: list[Path]) -> dict[str, Any]:
    """Moves a finished shard's files into place; returns their paths relative to OUT."""
    out = ctx.out
    _, kept_rel = kept_name(shard, ctx.config)
    moved: dict[str, Any] = {"kept": [], "scores": None, "rejects": None}
    for f in kept_files:
        if f.name == "part":
            target = out / "kept" / kept_rel
        else:  # LMFlow parts keep their own names, next to where the shard's file would be
            target = out / "kept" / Path(kept_rel).parent / f.name
        _move(f, target)
        moved["kept"].append(target.relative_to(out).as_posix())
    scores = out / "scores" / f"{shard.relative}.parquet"
    _move(stage / "scores.parquet", scores)
    moved["scores"] = scores.relative_to(out).as_posix()
    rejects = out / "rejects" / rejects_name(shard)[1]
    if (stage / STAGED_REJECTS).exists():
        _move(stage / STAGED_REJECTS, rejects)
        moved["rejects"] = rejects.relative_to(out).as_posix()
    elif rejects.exists():
        rejects.unlink()
    return moved


def _move(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(source, target)


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
