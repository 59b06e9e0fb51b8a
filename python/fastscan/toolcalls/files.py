"""Streaming tool-call files through the core: reading blocks, writing outputs, the output
directory, and the one per-file loop ``check`` and ``convert`` share.

Inputs are listed as ``fastscan-filter`` lists them (files, directories, globs; JSONL,
JSONL.gz, JSONL.zst, Parquet). JSONL is read by the core's line reader in blocks; Parquet rows
become JSON records. Every record ends in exactly one place, so for every file
``read == valid + invalid + rejected`` (check) and ``read == converted + not_converted +
rejected`` (convert). Each output is written under a ``.part`` name and renamed when its input
is done; ``report.json`` is written last.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from fastscan import __version__, _fastscan
from fastscan.filter.outdir import LOCK, LockedError, RunLock, inside, prune
from fastscan.filter.outputs import json_line
from fastscan.filter.plan import (
    RUN_FILE,
    PlanError,
    Shard,
    check_outputs,
    json_document,
    plan,
    read_parquet,
    run_record,
)
from fastscan.toolcalls.tables import FORMATS

REPORT = "report.json"
VIOLATIONS = "violations.parquet"
PARQUET_ROWS = 8192
#: The longest record read whole; a longer one is a counted ``oversized`` reject.
MAX_RECORD_BYTES = 64 << 20


class ToolcallsError(ValueError):
    """Bad arguments or an output directory that cannot be used (exit 2)."""


@dataclass
class RunResult:
    """What a run did: ``report`` holds the counts written to report.json."""

    report: dict[str, Any]

    @property
    def ok(self) -> bool:
        """No file failed."""
        return not any(f.get("error") for f in self.report["files"])


# ---- reading ----


@dataclass
class Block:
    rows: pa.Array  # uint64 record index in its file
    lines: pa.Array  # the records' JSON (binary or string)
    oversized: pa.Array  # bool
    table: pa.RecordBatch | None = None  # the Parquet rows themselves


def _blocks(shard: Shard, max_record_bytes: int) -> Iterator[Block]:
    if shard.format == "parquet":
        with open(shard.path, "rb") as fh:
            pf = read_parquet(fh, shard.path)
            first = 0
            for batch in pf.iter_batches(batch_size=PARQUET_ROWS):
                # The records the rows store (null struct fields absent, NaN as null), as
                # the filter writes Parquet rows as JSON.
                texts = [json_line(r) for r in batch.to_pylist()]
                n = len(texts)
                yield Block(
                    rows=pa.array(range(first, first + n), pa.uint64()),
                    lines=pa.array(texts, pa.large_string()),
                    oversized=pa.array([False] * n),
                    table=batch,
                )
                first += n
        return
    if shard.format is None:
        raise ToolcallsError(f"{shard.path}: not a .jsonl[.gz|.zst] or .parquet file")
    records = json_document(shard.path)
    if records is not None:  # an LMFlow dataset (fastscan's own outputs among them)
        yield from _records_blocks(records)
        return
    for b in _fastscan.LineReader(shard.path, max_record_bytes=max_record_bytes):
        yield Block(rows=b.column("row"), lines=b.column("line"), oversized=b.column("oversized"))


def prefetched(blocks: Iterable[Block]) -> Iterator[Block]:
    """`blocks`, each read on a worker thread while the one before is processed (the core's
    line reader decompresses and splits with the GIL released)."""
    it = iter(blocks)
    with ThreadPoolExecutor(1, thread_name_prefix="fastscan-read") as pool:
        pending = pool.submit(next, it, None)
        while (b := pending.result()) is not None:
            pending = pool.submit(next, it, None)
            yield b


def _records_blocks(records: Iterable[dict[str, Any] | str], size: int = 4096) -> Iterator[Block]:
    chunk: list[str] = []
    first = 0

    def block() -> Block:
        return Block(
            rows=pa.array(range(first, first + len(chunk)), pa.uint64()),
            lines=pa.array(chunk, pa.large_string()),
            oversized=pa.array([False] * len(chunk)),
        )

    for r in records:
        chunk.append(r if isinstance(r, str) else json.dumps(r, ensure_ascii=False))
        if len(chunk) == size:
            yield block()
            first += len(chunk)
            chunk = []
    if chunk:
        yield block()


# ---- writing ----


class _Outputs:
    """The files of one input under OUT, written in the run's staging and moved into place
    on ``commit``."""

    def __init__(self, run_dir: RunDir | None) -> None:
        self.run_dir = run_dir
        self.parts: list[tuple[Path, Path]] = []
        self.lines: dict[Path, Any] = {}
        self.parquet: dict[Path, pq.ParquetWriter] = {}

    def _part(self, path: Path) -> Path:
        assert self.run_dir is not None
        part = self.run_dir.staged(path)
        self.parts.append((part, path))
        return part

    def lines_to(self, path: Path) -> Any:
        """A line writer for `path`, compressed as its suffix says."""
        if path not in self.lines:
            self.lines[path] = _fastscan.LineWriter(self._part(path), like=path)
        return self.lines[path]

    def parquet_to(self, path: Path, schema: pa.Schema, compression: str) -> pq.ParquetWriter:
        if path not in self.parquet:
            self.parquet[path] = pq.ParquetWriter(self._part(path), schema, compression=compression)
        return self.parquet[path]

    def commit(self) -> list[Path]:
        for w in self.lines.values():
            w.finish()
        for p in self.parquet.values():
            p.close()
        if self.run_dir is not None:
            self.run_dir.commit(self.parts)
        return [final for _, final in self.parts]

    def abandon(self) -> None:
        for w in self.lines.values():
            with contextlib.suppress(OSError):
                w.finish()
        for p in self.parquet.values():
            with contextlib.suppress(OSError, ValueError):
                p.close()
        for part, _ in self.parts:
            part.unlink(missing_ok=True)


# ---- the output directory ----


class RunDir:
    """The output directory of a ``toolcalls check`` / ``convert`` or ``extract`` run.

    Held with the run lock (`RunLock`: one run at a time) and marked as a fastscan run by
    ``run.json`` (so no command reads it as input). Outputs are written under
    ``_tmp/<run>/`` and moved into place when their input is done; each move is journaled in
    ``_written`` first, so ``--overwrite`` after a killed run removes exactly what fastscan
    wrote (and a killed run's staging goes with the next run). A directory holding anything
    else is refused without ``--overwrite``; with it, only an earlier run of the same command
    is replaced, never a user's files.
    """

    JOURNAL = "_written"

    def __init__(self, out: Path, command: str) -> None:
        self.out = out
        self.command = command
        self.lock = RunLock(out)
        self.staging = out / "_tmp" / self.lock.run_id

    def open(self, overwrite: bool) -> None:
        out = self.out
        if out.exists() and not out.is_dir():
            raise ToolcallsError(f"{out} exists and is not a directory")
        try:
            self.lock.acquire()
        except LockedError as e:
            raise ToolcallsError(str(e)) from None
        try:
            self._ready(overwrite)
        except BaseException:
            self.lock.release()
            raise

    def _ready(self, overwrite: bool) -> None:
        out = self.out
        previous = run_record(out)
        own = {LOCK, RUN_FILE, REPORT, self.JOURNAL, "_tmp"}
        contents = [p for p in out.iterdir() if p.name not in own and not p.name.startswith(".")]
        # A run file without a command is a filter's from before commands were named.
        other = None if previous is None else previous.get("command") or "fastscan-filter"
        if other is not None and other != self.command:
            raise ToolcallsError(f"{out} holds a {other} run; use another output directory")
        if previous is not None or contents:
            if not overwrite:
                state = "an unfinished" if previous and not previous.get("finished") else "an"
                what = f"{state} earlier {self.command} run" if previous else "files"
                raise ToolcallsError(
                    f"{out} holds {what}; pass --overwrite to replace an earlier run "
                    "(only what fastscan wrote is removed), or use another output directory"
                )
            self._remove_earlier()
        shutil.rmtree(out / "_tmp", ignore_errors=True)  # dead runs' staging (we hold OUT)
        _write_text(out / RUN_FILE, json.dumps(self._record(finished=False)) + "\n")

    def _record(self, finished: bool) -> dict[str, Any]:
        return {"fastscan_version": __version__, "command": self.command, "finished": finished}

    def _remove_earlier(self) -> None:
        """Removes what an earlier run wrote: the outputs its report or journal lists."""
        out = self.out
        listed: set[str] = set()
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            listed.update(json.loads((out / REPORT).read_text(encoding="utf-8"))["outputs"])
        with contextlib.suppress(OSError):
            listed.update(
                line for line in (out / self.JOURNAL).read_text("utf-8").splitlines() if line
            )
        for rel in sorted(listed):
            target = out / rel
            if inside(out, target) and target.is_file():
                target.unlink()
                prune(target.parent, out)
        for name in (REPORT, self.JOURNAL):
            (out / name).unlink(missing_ok=True)

    def staged(self, final: Path) -> Path:
        """Where the output `final` (under OUT) is written until it is committed."""
        part = self.staging / final.relative_to(self.out)
        part.parent.mkdir(parents=True, exist_ok=True)
        return part

    def commit(self, pairs: Sequence[tuple[Path, Path]]) -> None:
        """Moves staged files into place, journaled first."""
        if not pairs:
            return
        with open(self.out / self.JOURNAL, "a", encoding="utf-8") as journal:
            journal.write("".join(f"{final.relative_to(self.out).as_posix()}\n"
                                  for _, final in pairs))  # fmt: skip
        for part, final in pairs:
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(part, final)

    def finish(self, report: dict[str, Any]) -> None:
        """Writes report.json (last of the outputs) and marks the run finished."""
        _write_text(self.out / REPORT, json.dumps(report, indent=2, ensure_ascii=False) + "\n")
        _write_text(self.out / RUN_FILE, json.dumps(self._record(finished=True)) + "\n")

    def close(self) -> None:
        """Removes this run's staging and gives the lock back (finished, failed or stopped)."""
        shutil.rmtree(self.staging, ignore_errors=True)
        with contextlib.suppress(OSError):
            (self.out / "_tmp").rmdir()
        self.lock.release()


def _write_text(path: Path, text: str) -> None:
    part = path.with_name(path.name + ".part")
    part.write_text(text, encoding="utf-8")
    os.replace(part, path)


def check_formats(*names: str | None) -> None:
    """Refuses a format name the core does not know (exit 2), naming the formats."""
    for name in names:
        if name is not None and name not in FORMATS:
            raise ToolcallsError(f"unknown format {name!r}; the formats are {', '.join(FORMATS)}")


def open_run(
    inputs: Sequence[str | os.PathLike[str]] | str | os.PathLike[str],
    out: str | os.PathLike[str] | None,
    overwrite: bool,
    command: str,
    outputs: Callable[[Shard], Iterable[str]] | None = None,
) -> tuple[list[Shard], RunDir | None, list[str]]:
    """The shards of `inputs` (their output paths, `outputs`, checked for collisions), the
    output directory opened (see `RunDir`: the caller closes it) and the inputs as named:
    what every file command starts with. Nothing is written when the plan is refused."""
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    out_dir = Path(out) if out is not None else None
    try:
        shards, _ = plan(list(inputs), out=out_dir)
        if outputs is not None:
            check_outputs(((s, outputs(s)) for s in shards), reserved=[REPORT, VIOLATIONS])
    except PlanError as e:
        raise ToolcallsError(str(e)) from e
    run_dir = None
    if out_dir is not None:
        run_dir = RunDir(out_dir, command)
        run_dir.open(overwrite)
    return shards, run_dir, [os.fspath(i) for i in inputs]


def jsonl_name(shard: Shard) -> str:
    """The JSONL name of a written-out file for `shard`: its own name for JSONL input,
    the input's name and ``.jsonl.zst`` for Parquet (``x.parquet.jsonl.zst``, never the name
    of another input's output)."""
    if shard.format == "parquet":
        return shard.relative + ".jsonl.zst"
    return shard.relative


def _reject_lines(
    file: str,
    rows: pa.Array,
    lines: pa.Array,
    idx: list[int],
    reasons: list[str],
    details: list[str],
) -> pa.Array:
    out = []
    for i, reason, detail in zip(idx, reasons, details, strict=True):
        raw = lines[i].as_py()
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        out.append(
            json.dumps(
                {
                    "file": file,
                    "record": rows[i].as_py(),
                    "reason": reason,
                    "detail": detail,
                    "line": text,
                },
                ensure_ascii=False,
            )
        )
    return pa.array(out, pa.large_string())


def _with_file(batch: pa.RecordBatch, file: str, rows: pa.Array, index_column: str) -> pa.Table:
    """`batch` with `file` and `record` (the record's index in its file) in front; the rows are
    the block's own, or those `index_column` points at."""
    n = batch.num_rows
    index = batch.column(index_column) if index_column else None
    record = rows if index is None else pc.take(rows, index)
    cols = [pa.array([file] * n, pa.string()), record]
    names = ["file", "record"]
    for name in batch.schema.names:
        if name != index_column:
            cols.append(batch.column(name))
            names.append(name)
    return pa.table(cols, names=names)


def _counts(values: pa.Array) -> Counter[str]:
    c: Counter[str] = Counter()
    for item in pc.value_counts(values).to_pylist():
        if item["values"] is not None:
            c[item["values"]] += item["counts"]
    return c


def concat(tables: list[pa.Table], schema: pa.Schema) -> pa.Table:
    return pa.concat_tables(tables) if tables else schema.empty_table()


def _parquet_compression(path: Path) -> str:
    with open(path, "rb") as fh:
        md = pq.ParquetFile(fh).metadata
        if md.num_row_groups and md.num_columns:
            return str(md.row_group(0).column(0).compression).lower()
    return "zstd"


def mark_oversized(b: Block, res: pa.RecordBatch) -> pa.RecordBatch:
    """`res` with the block's oversized records made ``rejected`` / ``oversized``."""
    if not pc.any(b.oversized).as_py():
        return res
    over = b.oversized
    columns = {
        "status": pc.if_else(over, "rejected", res.column("status")),
        "reason": pc.if_else(over, "oversized", res.column("reason")),
        "detail": pc.if_else(
            over, "longer than the longest record read whole", res.column("detail")
        ),
    }
    for name in ("output", "format", "from", "mode"):
        if name in res.schema.names:
            columns[name] = pc.if_else(over, pa.scalar(None, pa.string()), res.column(name))
    for name, col in columns.items():
        res = res.set_column(res.schema.get_field_index(name), name, col)
    return res


class FileRun:
    """One input's pass: its counts, its outputs (committed together), its result tables."""

    def __init__(
        self, shard: Shard | None, run_dir: RunDir | None, statuses: tuple[str, ...]
    ) -> None:
        self.shard = shard
        self.out = run_dir.out if shard is not None and run_dir is not None else None
        self.file = os.fspath(shard.path) if shard is not None else "<records>"
        self.entry: dict[str, Any] = {"file": self.file, "read": 0, **dict.fromkeys(statuses, 0)}
        self.outputs = _Outputs(run_dir)
        self.counts: dict[str, Counter[str]] = defaultdict(Counter)
        self.tables: dict[str, list[pa.Table]] = defaultdict(list)

    def tally(self, status: pa.Array) -> None:
        self.entry["read"] += len(status)
        for k, n in _counts(status).items():
            self.entry[k] += n

    def count(self, key: str, values: pa.Array) -> None:
        self.counts[key].update(_counts(values))

    def keep(self, key: str, batch: pa.RecordBatch, rows: pa.Array, index_column: str = "") -> None:
        """Keeps rows for the result tables: always for a run in memory; with an output
        directory only the violations, until their file is committed (memory stays per file)."""
        if self.out is None or key == "violations":
            self.tables[key].append(_with_file(batch, self.file, rows, index_column))

    def write_lines(self, relative: str, lines: pa.Array, mask: pa.Array | None = None) -> None:
        if self.out is not None:
            self.outputs.lines_to(self.out / relative).write(lines, mask)

    def write_parquet(self, relative: str, batch: pa.RecordBatch) -> None:
        if self.out is not None and self.shard is not None:
            writer = self.outputs.parquet_to(
                self.out / relative, batch.schema, _parquet_compression(self.shard.path)
            )
            writer.write_batch(batch)

    def write_rejects(self, kind: str, b: Block, res: pa.RecordBatch, mask: pa.Array) -> None:
        """The records where `mask` is true, with their reason, into ``kind/``."""
        if self.out is None or self.shard is None or not pc.any(mask).as_py():
            return
        idx = [i for i, m in enumerate(mask.to_pylist()) if m]
        reasons = res.column("reason").to_pylist()
        details = res.column("detail").to_pylist()
        lines = _reject_lines(
            self.file, b.rows, b.lines, idx, [reasons[i] for i in idx], [details[i] for i in idx]
        )
        self.write_lines(f"{kind}/{jsonl_name(self.shard)}", lines)


def run_files(
    sources: list[tuple[Shard | None, Iterable[dict[str, Any] | str] | None]],
    run_dir: RunDir | None,
    statuses: tuple[str, ...],
    on_block: Callable[[FileRun, Block], None],
    max_record_bytes: int,
    on_commit: Callable[[FileRun], None] | None = None,
) -> tuple[list[dict[str, Any]], list[FileRun], list[str]]:
    """Runs `on_block` over every block of every source, then `on_commit` once a file's
    outputs are in place. A file that fails (unreadable, corrupt) leaves no output and an
    ``error`` in its entry. Returns the per-file entries, the completed runs and the outputs
    written (relative to `out`)."""
    entries: list[dict[str, Any]] = []
    done: list[FileRun] = []
    outputs: list[str] = []
    out = run_dir.out if run_dir is not None else None
    for shard, records in sources:
        run = FileRun(shard, run_dir, statuses)
        blocks = (
            prefetched(_blocks(shard, max_record_bytes))
            if shard is not None
            else _records_blocks(records or [])
        )
        try:
            for b in blocks:
                on_block(run, b)
            written = run.outputs.commit()
        except (OSError, ValueError, pa.ArrowException) as e:
            run.outputs.abandon()
            entries.append(
                {"file": run.file, "read": 0, **dict.fromkeys(statuses, 0), "error": str(e)}
            )
            continue
        if out is not None:
            outputs.extend(os.fspath(p.relative_to(out)) for p in written)
        if on_commit is not None:
            on_commit(run)
        entries.append(run.entry)
        done.append(run)
    return entries, done, outputs


def merged(runs: list[FileRun], key: str, zero: Iterable[str] = ()) -> dict[str, int]:
    """One count over every run (with `zero` listed even when nothing was counted)."""
    total: Counter[str] = Counter(dict.fromkeys(zero, 0))
    for r in runs:
        total.update(r.counts[key])
    return dict(total)


def totals(entries: list[dict[str, Any]], statuses: tuple[str, ...]) -> dict[str, int]:
    return {k: sum(f[k] for f in entries) for k in ("read", *statuses)}
