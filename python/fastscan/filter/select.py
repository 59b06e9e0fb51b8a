"""Phase 2 of a run: decide over every shard's scores, then write the kept files.

Once every shard is scored (phase 1, `fastscan.filter.shard`), each ranked stage's cutoff is
found over all of them (`fastscan.cascade.decide.find_cutoffs`: exact, ties by shard then
row, a few histogram passes over the scores); then, shard by shard, every record is decided
from its scores (`Pipeline.complete_decided`, as phase 1 and `BatchScorer` decide), the
shard's scores file is rewritten with those decisions, and its kept file is written from its
input and the chosen rows (`_fastscan.copy_rows`: verbatim lines, read at their byte ranges
or decompressed once more; Parquet rows re-read and filtered). A shard whose decisions phase
1 already made (no ranking) keeps its scores, counts and kept files. Memory does not grow
with the corpus: scores are read a shard or a batch at a time, and a shard's chosen rows are
three integers each.

``fastscan select`` runs this phase alone over the scores of a finished run, with new
thresholds, into a new directory: the kept files it writes are those a fresh run with the
same settings writes, byte for byte.

Each shard ends with its marker ``_done/<relative>.json`` (its report entry, with the
cutoffs it was decided with); a rerun redoes a shard whose marker has other cutoffs.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from fastscan import _fastscan
from fastscan.cascade.decide import find_cutoffs
from fastscan.cascade.ranking import Cutoff
from fastscan.filter.accounting import Accounting
from fastscan.filter.distributions import merge
from fastscan.filter.outdir import same_input
from fastscan.filter.outputs import (
    KeptRows,
    ShardError,
    batch_texts,
    jsonl_to_parquet,
    kept_name,
)
from fastscan.filter.plan import Shard
from fastscan.filter.shard import (
    PARQUET_BATCH_ROWS,
    kept_arguments,
    marker_path,
    move,
    place_kept,
    scored_path,
    shard_entry,
    staging_dir,
    write_atomic,
)
from fastscan.pipeline import Pipeline


@dataclass
class Selector:
    """What phase 2 shares across shards: where the scores are (`source`) and where the
    outputs go (`out`; the same directory for a run, a new one for ``fastscan select``)."""

    pipeline: Pipeline
    source: Path
    out: Path
    run_id: str
    tokenizer: _fastscan.Tokenizer | None
    cutoffs: dict[str, Cutoff]

    @property
    def fingerprint(self) -> dict[str, Any]:
        """What the decisions depend on beyond the run's settings: the cutoffs."""
        return {name: c.to_dict() for name, c in sorted(self.cutoffs.items())}


def order(scored: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The scored shards in ranking order (their part numbers): by relative path."""
    return sorted(scored, key=lambda e: e["relative"])


def cutoffs(
    pipeline: Pipeline, source: Path, scored: Sequence[dict[str, Any]]
) -> dict[str, Cutoff]:
    """Every ranked stage's cutoff over the scores of all scored shards."""
    if not pipeline.ranked:
        return {}
    ranked = order(scored)

    def parts() -> Iterator[tuple[int, pa.Table, Any]]:
        for part, entry in enumerate(ranked):
            with open(source / entry["scored"]["scores"], "rb") as handle:  # any file name
                table = pq.ParquetFile(handle).read()
            yield part, table, table.column("row")

    return find_cutoffs(pipeline.stages, parts)


def select_shard(shard: Shard, scored: dict[str, Any], part: int, sel: Selector) -> dict[str, Any]:
    """Decides one scored shard and writes its kept file; returns its report entry."""
    started = time.perf_counter()
    pipeline = sel.pipeline
    if not shard.path.exists():
        raise ShardError(f"{shard.path} not found: the input was scored, then moved or deleted")
    if not same_input(scored, shard.path):
        raise ShardError(f"{shard.path} changed since it was scored: score it again")
    stage = staging_dir(sel.out, shard, sel.run_id) / "select"
    if stage.exists():
        shutil.rmtree(stage)
    (stage / "kept").mkdir(parents=True)
    try:
        source_scores = sel.source / scored["scored"]["scores"]
        names, min_hits = pipeline.names, pipeline.min_hits
        if scored.get("final") is not None and sel.source == sel.out and not sel.cutoffs:
            # Phase 1's decisions are the run's: its counts stand, its scores stay.
            rewrite = False
            accounting = Accounting.from_dict(scored["final"], names, min_hits)
            chosen = _kept_rows(source_scores) if scored["scored"].get("kept") is None else None
        else:
            rewrite = True
            accounting, chosen = _decide_scores(source_scores, stage / "scores.parquet", part, sel)
        tally = accounting.tally
        tally.blank_lines = scored.get("blank_lines", 0)
        tally.check()
        kept_files: list[Path] | None = None
        if chosen is not None:
            kept_files = write_kept(shard, pipeline, sel.tokenizer, chosen, stage)
        elif tally.docs["kept"] != scored["scored"]["kept_docs"]:  # the scan wrote them
            raise AssertionError(
                f"{shard.relative}: the scan kept {scored['scored']['kept_docs']} records, "
                f"the decision {tally.docs['kept']}"
            )
        entry = shard_entry(shard, tally, scored["seconds"] + time.perf_counter() - started)
        entry["input"] = scored["input"]
        if "worker" in scored:  # where a Ray task scored it
            entry["worker"] = scored["worker"]
        lines = list(accounting.lines.values())
        for line in lines:  # the time each stage took is phase 1's
            line.setup_seconds, line.seconds = scored["stage_seconds"].get(line.name, (0.0, 0.0))
        entry["funnel"] = [line.to_dict() for line in lines]
        entry["summary"] = merge(accounting.summaries)
        entry["selection"] = sel.fingerprint
        entry["outputs"] = _commit(shard, scored, sel, stage, kept_files, rewrite)
        write_atomic(marker_path(sel.out, shard), json.dumps(entry, indent=1).encode())
        return entry
    finally:
        shutil.rmtree(stage.parent, ignore_errors=True)


Chosen = tuple[np.ndarray, np.ndarray, np.ndarray]


def _decide_scores(
    source: Path, target: Path, part: int, sel: Selector
) -> tuple[Accounting, Chosen]:
    """Decides a scores file batch by batch, writing the decided batches to `target`;
    returns their accounting and the kept rows (row, offset, length), from the one read."""
    pipeline = sel.pipeline
    accounting = Accounting(pipeline.names, pipeline.min_hits)
    chosen = _Chosen()
    writer: pq.ParquetWriter | None = None
    with open(source, "rb") as handle:
        scores = pq.ParquetFile(handle)
        try:
            batches = scores.iter_batches(batch_size=65536)
            for batch in _non_empty(batches, scores.schema_arrow):
                # Decided again as phase 1 decides, with the run's cutoffs.
                decided, decisions = pipeline.complete_decided(batch, None, sel.cutoffs, part)
                if writer is None:
                    writer = pq.ParquetWriter(target, decided.schema, compression="zstd")
                writer.write_batch(decided)
                accounting.add(decided, decisions)
                chosen.add(decided)
        finally:
            if writer is not None:
                writer.close()
    return accounting, chosen.arrays()


def _kept_rows(source: Path) -> Chosen:
    """The kept rows of a decided scores file (four columns read)."""
    chosen = _Chosen()
    with open(source, "rb") as handle:
        scores = pq.ParquetFile(handle)
        for batch in scores.iter_batches(
            batch_size=65536, columns=["row", "offset", "length", "decision"]
        ):
            chosen.add(batch)
    return chosen.arrays()


class _Chosen:
    """The kept rows of decided scores batches: row, offset (0 for Parquet) and length."""

    def __init__(self) -> None:
        self.parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def add(self, batch: pa.RecordBatch) -> None:
        kept = pc.equal(batch.column("decision"), "kept")
        self.parts.append(
            (
                np.asarray(pc.filter(batch.column("row"), kept), np.uint64),
                np.asarray(pc.fill_null(pc.filter(batch.column("offset"), kept), 0), np.uint64),
                np.asarray(pc.filter(batch.column("length"), kept), np.uint64),
            )
        )

    def arrays(self) -> Chosen:
        if not self.parts:
            empty = np.zeros(0, np.uint64)
            return empty, empty, empty
        rows, offsets, lengths = zip(*self.parts, strict=True)
        return np.concatenate(rows), np.concatenate(offsets), np.concatenate(lengths)


def _non_empty(batches: Iterator[pa.RecordBatch], schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    """The batches of a scores file, or one empty batch (so an empty shard is written too)."""
    seen = False
    for batch in batches:
        seen = True
        yield batch
    if not seen:
        yield pa.RecordBatch.from_pylist([], schema=schema)


def write_kept(
    shard: Shard,
    pipeline: Pipeline,
    tokenizer: _fastscan.Tokenizer | None,
    chosen: Chosen,
    stage: Path,
) -> list[Path]:
    """A shard's kept file(s) from its input and the chosen rows, under ``stage/kept``: the
    one writer of kept records."""
    cfg = pipeline.config
    fmt, _ = kept_name(shard, cfg)
    kept_dir = stage / "kept"
    rows, offsets, lengths = chosen
    if shard.format == "jsonl":
        arrays = [pa.array(a, pa.uint64()) for a in (rows, offsets, lengths)]
        common: dict[str, Any] = {
            "text_field": cfg.text_field,
            "block_bytes": cfg.block_mb << 20,
            "max_record_bytes": cfg.max_record_mb << 20,
        }
        target = kept_arguments(shard, cfg, stage)
        if target:  # lines or texts, as the scan writes them
            rows_, offsets_, lengths_ = arrays
            files = _fastscan.copy_rows(shard.path, rows_, offsets_, lengths_, **target, **common)
            return [Path(p) for p in files]
        plain = stage / "kept.jsonl"
        _fastscan.copy_rows(shard.path, *arrays, kept_path=plain, **common)
        return [jsonl_to_parquet(plain, kept_dir / "part")]
    with open(shard.path, "rb") as handle:
        source = pq.ParquetFile(handle, pre_buffer=False)
        out = KeptRows(fmt, kept_dir, shard, cfg, source.schema_arrow)
        try:
            first = 0
            for batch in source.iter_batches(batch_size=PARQUET_BATCH_ROWS):
                # The chosen rows in this batch (they are ascending): a slice of them.
                lo, hi = np.searchsorted(rows, [first, first + batch.num_rows])
                flags = np.zeros(batch.num_rows, dtype=bool)
                flags[(rows[lo:hi] - first).astype(np.int64)] = True
                mask = pa.array(flags)
                first += batch.num_rows
                if fmt == "lmflow":
                    kept = batch.filter(mask)
                    texts, _ = batch_texts(kept, cfg, tokenizer)  # only the kept rows decoded
                    out.write(kept, texts, pa.array(np.ones(kept.num_rows, dtype=bool)))
                else:
                    out.write(batch, pa.nulls(batch.num_rows, pa.string()), mask)
            if first < (int(rows[-1]) + 1 if len(rows) else 0):
                raise ShardError(f"{shard.path} changed since it was scored: score it again")
        finally:
            written = out.close()
    return written


def _commit(
    shard: Shard,
    scored: dict[str, Any],
    sel: Selector,
    stage: Path,
    kept_files: list[Path] | None,
    rewrite: bool,
) -> dict[str, Any]:
    """Moves a decided shard's files into place (removing kept files an earlier decision
    wrote that this one does not); returns their paths relative to the output. `kept_files`
    None: the scan put them in place already."""
    out = sel.out
    moved: dict[str, Any] = {"kept": [], "scores": None, "rejects": None}
    if kept_files is None:
        moved["kept"] = list(scored["scored"]["kept"])
    else:
        moved["kept"] = place_kept(out, shard, sel.pipeline.config, kept_files)
    previous = _previous_kept(out, shard)
    for rel in previous - set(moved["kept"]):
        (out / rel).unlink(missing_ok=True)
    scores = out / "scores" / f"{shard.relative}.parquet"
    if rewrite:
        move(stage / "scores.parquet", scores)
    moved["scores"] = scores.relative_to(out).as_posix()
    rejects = scored["scored"].get("rejects")
    if rejects and sel.source != out:
        target = out / rejects
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp")
        shutil.copyfile(sel.source / rejects, tmp)
        os.replace(tmp, target)
    moved["rejects"] = rejects
    if sel.source != out:  # the new directory is a run of its own: its phase-1 marker too
        marker = {**scored, "scored": {"scores": moved["scores"], "rejects": rejects}}
        write_atomic(scored_path(out, shard), json.dumps(marker, indent=1).encode())
    return moved


def _previous_kept(out: Path, shard: Shard) -> set[str]:
    try:
        entry = json.loads(marker_path(out, shard).read_text(encoding="utf-8"))
        return set((entry.get("outputs") or {}).get("kept") or [])
    except (OSError, ValueError):
        return set()
