"""Phase 1 of a run, one shard: read it once, score every record with every stage.

The shard streams through the pipeline block by block: the core reads, parses and scans a
block and hands over its scores batch with the texts of the keep rule's survivors (Arrow, no
copy); survivors gather across blocks to a batch for the later stages, which measure them in
memory; each scores batch is then completed (`Pipeline.complete`) and written once. Nothing
is staged and read back. The shard's scores file and rejects file are written under
``OUT/_tmp/<run>/`` and moved into place when the shard is complete; its marker
``OUT/_scored/<relative path>.json`` is written last. Without a ``top_fraction`` the decisions
are final here, and the scan writes the kept records too: the survivors' lines (or rows)
wait until their batch is decided. A ranking decides in phase 2 (`fastscan.filter.select`),
over every shard's scores, which then writes the kept files from the inputs.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from fastscan import _fastscan
from fastscan.cascade.decide import Decisions
from fastscan.filter.accounting import Accounting
from fastscan.filter.config import FilterConfig
from fastscan.filter.context import Context
from fastscan.filter.guard import FirstRecords, no_text_message
from fastscan.filter.outdir import input_identity, inside
from fastscan.filter.outputs import (
    KeptRows,
    ShardError,
    batch_texts,
    column_at,
    input_compression,
    json_line,
    kept_name,
    open_text_writer,
    rejects_name,
)
from fastscan.filter.plan import Shard, json_document, read_parquet
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


def scored_path(out: Path, shard: Shard) -> Path:
    return out / "_scored" / f"{shard.relative}.json"


# Survivors gathered before the later stages measure them: enough for the semantic stage's
# batches (and its longest-first order), little memory (their texts, and their lines or rows
# when the scan writes the kept records: about twice GATHER_BYTES at most).
GATHER_DOCS = 4096
GATHER_BYTES = 64 << 20

KeepSurvivors = Callable[[pa.Array], None]
"""Hears, once the later stages have decided a block's survivors, which the run keeps."""


def run_shard(shard: Shard, ctx: Context, watch: Silent) -> dict[str, Any]:
    """Scores one shard and commits its scores and rejects; returns its phase-1 entry (the
    marker). `watch` hears of its progress and may stop it by raising (`Interrupted`).

    Raises `ShardError` (or `OSError`) when the shard fails; its staging is then removed.
    """
    stage = staging_dir(ctx.out, shard, ctx.run_id)
    _check_targets(shard, ctx, stage)
    identity = input_identity(shard.path)  # before reading: a change during the run shows
    if stage.exists():
        shutil.rmtree(stage)
    stage.mkdir(parents=True)
    started = time.perf_counter()
    scores = _Scores(stage / "scores.parquet", ctx, watch)
    try:
        kept: list[Path] | None = None
        if shard.format == "jsonl":
            if json_document(shard.path) is not None:
                raise ShardError(
                    "one JSON document (an LMFlow dataset), not JSON lines: fastscan extract "
                    "and toolcalls check read it; for fastscan-filter, filter the JSONL or "
                    "Parquet it was made from"
                )
            blank_lines, kept = _scan_jsonl(shard, ctx, stage, scores, watch)
        elif shard.format == "parquet":
            blank_lines, kept = _scan_parquet(shard, ctx, stage, scores, watch)
        else:
            raise ShardError(
                f"unknown file type {shard.suffix!r}: expected .jsonl, .json, .jsonl.gz, "
                ".jsonl.zst or .parquet"
            )
        scores.close()
        entry = {
            "path": os.path.abspath(shard.path),  # select reads it from any directory
            "relative": shard.relative,
            "format": shard.format,
            "input_bytes": shard.size,
            "input": identity,
            "records": scores.rows,
            "text_bytes": scores.text_bytes,
            "blank_lines": blank_lines,
            "seconds": round(time.perf_counter() - started, 6),
            "stage_seconds": scores.stage_seconds(time.perf_counter() - started),
            "scored": _commit_scored(shard, ctx, stage, kept, scores.kept_docs()),
            "final": None if scores.accounting is None else scores.accounting.to_dict(),
        }
        write_atomic(scored_path(ctx.out, shard), json.dumps(entry, indent=1).encode())
        return entry
    finally:
        scores.abort()
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
    return attempt(shard, lambda: run_shard(shard, ctx, watch))


def attempt(shard: Shard, work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """`work()` (a phase of one shard), with a failure turned into the shard's entry."""
    began = time.perf_counter()
    try:
        return work()
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


class _Scores:
    """Completes a shard's scores batches and writes them: stage 1's batches wait here until
    the later stages have measured their survivors (gathered across blocks); then each
    block's `keep` hears which of its survivors the run keeps (their lines or rows wait for
    that in the reader or the batch, when the scan writes the kept records)."""

    def __init__(self, path: Path, ctx: Context, watch: Silent) -> None:
        self.path = path
        self.pipeline = ctx.pipeline
        self.watch = watch
        self.writer: pq.ParquetWriter | None = None
        self.pending: list[tuple[pa.RecordBatch, pa.Array | None, KeepSurvivors | None]] = []
        self.pending_docs = 0
        self.pending_bytes = 0
        self.rows = 0
        self.text_bytes = 0
        self.later_seconds: dict[str, tuple[float, float]] = {}
        # With no ranking, phase 1's decisions are final: it counts them too.
        self.accounting = (
            None
            if self.pipeline.ranked
            else Accounting(self.pipeline.names, self.pipeline.min_hits)
        )

    def add(
        self,
        judged: pa.RecordBatch,
        survivors: pa.Array | None,
        keep: KeepSurvivors | None = None,
    ) -> None:
        """One block's stage-1 batch and its survivors' texts (None: no later stages);
        `keep` hears which survivors the run keeps, once the later stages have decided
        (None: the kept records are not written in this phase)."""
        self.pending.append((judged, survivors, keep))
        if survivors is not None:
            self.pending_docs += len(survivors)
            self.pending_bytes += survivors.nbytes
        full = self.pending_docs >= GATHER_DOCS or self.pending_bytes >= GATHER_BYTES
        if full or survivors is None:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        later: pa.Table | None = None
        if self.pipeline.later is not None:
            texts = pa.concat_arrays(
                [t.cast(pa.large_string()) for _, t, _ in self.pending if t is not None]
            )
            later, seconds = self.pipeline.measure_later(texts, self.watch)
            for name, (setup, spent) in seconds.items():
                was = self.later_seconds.get(name, (0.0, 0.0))
                self.later_seconds[name] = (was[0] + setup, was[1] + spent)
        start = 0
        for judged, survivors, keep in self.pending:
            part = None
            if later is not None and survivors is not None:
                part = later.slice(start, len(survivors))
                start += len(survivors)
            batch, decisions = self.pipeline.complete_decided(judged, part)
            if keep is not None:
                survived = pc.equal(judged.column("decision"), "kept")
                keep(pc.filter(pc.equal(decisions.decision, "kept"), survived))
            self._write(batch, decisions)
        self.pending = []
        self.pending_docs = self.pending_bytes = 0

    def _write(self, batch: pa.RecordBatch, decisions: Decisions) -> None:
        if self.accounting is not None:
            self.accounting.add(batch, decisions)
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.path, batch.schema, compression="zstd")
        self.writer.write_batch(batch)
        self.rows += batch.num_rows
        self.text_bytes += _text_bytes(batch)

    def close(self) -> None:
        self.flush()
        if self.writer is None:  # an empty shard: an empty file with the full schema
            empty = self.pipeline.judge(pa.array([], pa.string()))
            if self.pipeline.config.id_field is not None:
                empty = with_id(empty, pa.record_batch({}), self.pipeline.config.id_field)
            later = None
            if self.pipeline.later is not None:
                later, _ = self.pipeline.measure_later(pa.array([], pa.large_string()))
            batch = self.pipeline.complete(empty, later)
            self.writer = pq.ParquetWriter(self.path, batch.schema, compression="zstd")
        self.writer.close()
        self.writer = None

    def kept_docs(self) -> int:
        """Records kept, when the decisions are final here (else 0)."""
        return self.accounting.tally.docs["kept"] if self.accounting is not None else 0

    def abort(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def stage_seconds(self, total: float) -> dict[str, list[float]]:
        """Each stage's (setup seconds, seconds); the scan's are the rest of the shard's."""
        later = sum(setup + spent for setup, spent in self.later_seconds.values())
        out = {"patterns": [0.0, round(max(total - later, 0.0), 6)]}
        out.update({k: [round(a, 6), round(b, 6)] for k, (a, b) in self.later_seconds.items()})
        return out


def _scan_jsonl(
    shard: Shard, ctx: Context, stage: Path, scores: _Scores, watch: Silent
) -> tuple[int, list[Path] | None]:
    """Scans a JSONL shard; returns its blank lines and, when no ranking over the run
    decides, the kept files the scan wrote (else None: phase 2 writes them)."""
    cfg = ctx.config
    later = ctx.pipeline.later is not None
    # Unless a ranking over the whole run decides, the scan writes the kept records: those
    # the keep rule keeps as it goes, or, with later stages, those they keep as they decide.
    kept_args = {} if ctx.pipeline.ranked else kept_arguments(shard, cfg, stage)
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
        survivor_texts=later,
        id_field=cfg.id_field,
        **kept_args,
    )
    first = FirstRecords(lambda _, n: no_text_message(shard.path, cfg.text_field, n), ShardError)
    consumed = 0
    for item in reader:
        batch, texts = item if later else (item, None)
        first.observe(batch.column("reject_reason"))
        now = reader.consumed
        watch.advance(now - consumed, batch.num_rows, _text_bytes(batch))
        consumed = now
        scores.add(batch, texts, reader.keep_survivors if kept_args else None)
    first.finish()
    scores.flush()  # the last survivors are decided (and written) before the output closes
    _, kept = reader.finish()
    return int(reader.blank_lines), [Path(p) for p in kept] if kept_args else None


def kept_arguments(shard: Shard, cfg: FilterConfig, stage: Path) -> dict[str, Any]:
    """Where the kept lines of a JSONL shard go (the arguments of `JsonlShard` and
    `copy_rows`), under ``stage/kept``; empty when they are not lines or texts (Parquet
    output is converted from a JSONL file of them)."""
    fmt, _ = kept_name(shard, cfg)
    kept_dir = stage / "kept"
    kept_dir.mkdir(parents=True, exist_ok=True)
    if fmt == "lmflow":
        return {
            "lmflow_dir": kept_dir,
            "lmflow_stem": Path(shard.relative).name,
            "lmflow_max_bytes": cfg.lmflow_shard_mb << 20,
        }
    if fmt == "jsonl":
        compression = cfg.output_compression or input_compression(shard)
        return {"kept_path": kept_dir / "part", "kept_compression": compression}
    return {}


def _text_bytes(batch: pa.RecordBatch) -> int:
    return int(pc.sum(batch.column("length")).as_py() or 0)


def _scan_parquet(
    shard: Shard, ctx: Context, stage: Path, scores: _Scores, watch: Silent
) -> tuple[int, list[Path] | None]:
    """Scans a Parquet shard; returns 0 blank lines and, when no ranking over the run
    decides, the kept files written as it went (else None: phase 2 writes them)."""
    # Opened by Python: pyarrow's own paths must be UTF-8, file names need not be.
    with open(shard.path, "rb") as handle:
        source = open_parquet(handle, shard, ctx)
        kept = None
        if not ctx.pipeline.ranked:  # no ranking over the run: the scan writes the kept rows
            (stage / "kept").mkdir(parents=True, exist_ok=True)
            fmt, _ = kept_name(shard, ctx.config)
            kept = KeptRows(fmt, stage / "kept", shard, ctx.config, source.schema_arrow)
        try:
            _scan_parquet_batches(source, shard, ctx, stage, scores, watch, kept)
            scores.flush()  # the last survivors are decided (and written) first
        finally:
            files = kept.close() if kept is not None else None
    return 0, files


def open_parquet(handle: Any, shard: Shard, ctx: Context) -> pq.ParquetFile:
    """A Parquet shard, checked for a text (or token-id) column it can read."""
    cfg = ctx.config
    try:
        # No pre-buffering: pyarrow would otherwise hold whole column chunks (~700 MB of a
        # 2 GB shard); batches are read a row group's pages at a time.
        source = read_parquet(handle, shard.path)
    except ValueError as e:
        raise ShardError(str(e)) from e
    names = source.schema_arrow.names
    # A column named with the dots itself (``a.b``) comes first, then struct ``a``'s ``b``
    # (as `outputs.column_at` reads them).
    top = cfg.text_field if cfg.text_field in names else cfg.text_field.split(".")[0]
    for name in {top, cfg.tokens_field}:
        if names.count(name) > 1:
            raise ShardError(f"the file has {names.count(name)} columns named {name!r}")
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
    return source


def _scan_parquet_batches(
    source: pq.ParquetFile,
    shard: Shard,
    ctx: Context,
    stage: Path,
    scores: _Scores,
    watch: Silent,
    kept: KeptRows | None,
) -> None:
    cfg = ctx.config
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
                judged = ctx.pipeline.judge(texts, row, [i for i, _ in bad])
            except TypeError as e:  # the core names the six string/binary types it reads
                raise ShardError(f"text column {cfg.text_field!r}: {e}") from e
            first.observe(judged.column("reject_reason"))
            if cfg.id_field is not None:
                judged = with_id(judged, batch, cfg.id_field)
            survived = pc.equal(judged.column("decision"), "kept")
            survivors = pc.filter(texts, survived)
            rejects.write(batch, judged, dict(bad), row)
            keep = None if kept is None else _keep_rows(kept, batch.filter(survived), survivors)
            row += batch.num_rows
            watch.advance(int(per_row * batch.num_rows), batch.num_rows, _text_bytes(judged))
            scores.add(judged, survivors if ctx.pipeline.later is not None else None, keep)
        first.finish()
    finally:
        rejects.close()


def _keep_rows(kept: KeptRows, rows: pa.RecordBatch, texts: pa.Array) -> KeepSurvivors:
    """Writes the survivors `rows` (texts `texts`) the run keeps, once that is known (as
    the JSONL reader keeps its survivors' lines until then)."""
    return lambda mask: kept.write(rows, texts, mask)


def with_id(judged: pa.RecordBatch, batch: pa.RecordBatch, field: str) -> pa.RecordBatch:
    """A Parquet batch's scores with its records' ids (column `field`, as text; null when the
    file has no such column) after ``length``, where the JSONL scan puts them."""
    ids = column_at(batch, field)
    n = judged.num_rows
    if ids is None or pa.types.is_nested(ids.type):  # as JSONL: only strings and numbers
        ids = pa.nulls(n, pa.string())
    else:
        try:
            ids = pc.cast(ids, pa.string())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
            raise ShardError(f"id column {field!r} ({ids.type}) does not read as text: {e}") from e
    at = judged.schema.get_field_index("length") + 1
    return judged.add_column(at, pa.field("id", pa.string()), ids)


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


def _commit_scored(
    shard: Shard, ctx: Context, stage: Path, kept: list[Path] | None, kept_docs: int
) -> dict[str, Any]:
    """Moves a scored shard's scores and rejects (and kept files, when the scan wrote them)
    into place; returns their paths relative to OUT."""
    out = ctx.out
    scores = out / "scores" / f"{shard.relative}.parquet"
    move(stage / "scores.parquet", scores)
    moved: dict[str, Any] = {"scores": scores.relative_to(out).as_posix(), "rejects": None}
    if kept is not None:
        moved["kept"] = place_kept(out, shard, ctx.config, kept)
        moved["kept_docs"] = kept_docs
    rejects = out / "rejects" / rejects_name(shard)[1]
    if (stage / STAGED_REJECTS).exists():
        move(stage / STAGED_REJECTS, rejects)
        moved["rejects"] = rejects.relative_to(out).as_posix()
    elif rejects.exists():
        rejects.unlink()
    return moved


def place_kept(out: Path, shard: Shard, cfg: FilterConfig, files: list[Path]) -> list[str]:
    """Moves a shard's kept files into ``out/kept``; returns their paths relative to `out`."""
    _, kept_rel = kept_name(shard, cfg)
    placed = []
    for f in files:
        if f.name == "part":
            target = out / "kept" / kept_rel
        else:  # LMFlow parts keep their own names, next to where the shard's file would be
            target = out / "kept" / Path(kept_rel).parent / f.name
        move(f, target)
        placed.append(target.relative_to(out).as_posix())
    return placed


def move(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(source, target)


def write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
