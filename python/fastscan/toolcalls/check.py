"""``check``: every record's calls against the tools it offers, over files or in memory."""

from __future__ import annotations

import heapq
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from fastscan import _fastscan
from fastscan.filter.plan import Shard
from fastscan.toolcalls.files import (
    MAX_RECORD_BYTES,
    VIOLATIONS,
    Block,
    FileRun,
    RunDir,
    RunResult,
    check_formats,
    concat,
    jsonl_name,
    mark_oversized,
    merged,
    open_run,
    run_files,
    totals,
)
from fastscan.toolcalls.tables import MODES, RULES

STATUSES = ("valid", "invalid", "rejected")

VIOLATION_SCHEMA = pa.schema(
    [
        ("file", pa.string()),
        ("record", pa.uint64()),
        ("rule", pa.string()),
        ("path", pa.string()),
        ("message", pa.string()),
        ("tool", pa.string()),
    ]
)
RECORD_SCHEMA = pa.schema(
    [
        ("file", pa.string()),
        ("record", pa.uint64()),
        ("status", pa.string()),
        ("format", pa.string()),
        ("mode", pa.string()),
        ("violations", pa.uint32()),
        ("reason", pa.string()),
        ("detail", pa.string()),
    ]
)


@dataclass
class CheckResult(RunResult):
    """What ``check`` found. ``records``: one row per record (file, record, status, format,
    mode, violations, reason, detail); ``violations``: one row per violation (file, record,
    rule, path, message, tool). With an output directory both are empty: the run's outputs
    hold them (violations.parquet, valid/, invalid/), so memory does not grow with the
    input."""

    records: pa.Table
    violations: pa.Table


#: Tools listed in report.json (the most called first); ``tools_total`` counts them all.
REPORT_TOOLS = 1000


def _top_tools(calls: dict[str, int], violations: dict[str, int]) -> dict[str, dict[str, int]]:
    names = set(calls) | set(violations)
    top = heapq.nsmallest(
        REPORT_TOOLS, names, key=lambda n: (-calls.get(n, 0), -violations.get(n, 0), n)
    )
    return {n: {"calls": calls.get(n, 0), "violations": violations.get(n, 0)} for n in top}


class _Checker:
    """The per-block step of a check run."""

    def __init__(self, engine: Any, format: str | None) -> None:
        self.engine = engine
        self.format = format

    def __call__(self, run: FileRun, b: Block) -> None:
        records, violations = self.engine.check(b.lines, format=self.format)
        records = mark_oversized(b, records)
        if pc.any(b.oversized).as_py():
            violations = violations.filter(
                pc.invert(pc.take(b.oversized, violations.column("record")))
            )
        status = records.column("status")
        run.tally(status)
        run.count("formats", records.column("format"))
        run.count("modes", records.column("mode"))
        run.count("calls", pc.list_flatten(records.column("called")))
        run.count("rules", violations.column("rule"))
        run.count("tool_violations", violations.column("tool"))
        rejected = pc.equal(status, "rejected")
        run.count("rejects", records.column("reason").filter(rejected))
        run.keep("records", records.drop_columns(["called"]), b.rows)
        run.keep("violations", violations, b.rows, "record")
        if run.shard is None:
            return
        for kind in ("valid", "invalid"):
            mask = pc.equal(status, kind)
            if not pc.any(mask).as_py():
                continue
            if b.table is not None:
                run.write_parquet(f"{kind}/{run.shard.relative}", b.table.filter(mask))
            else:
                run.write_lines(f"{kind}/{run.shard.relative}", b.lines, mask)
        run.write_rejects("rejects", b, records, rejected)


def check(
    inputs: Sequence[str | os.PathLike[str]] | str | os.PathLike[str],
    out: str | os.PathLike[str] | None = None,
    *,
    format: str | None = None,
    threads: int | None = None,
    overwrite: bool = False,
    max_record_bytes: int = MAX_RECORD_BYTES,
) -> CheckResult:
    """Checks every record of `inputs` (files, directories, globs of JSONL / JSONL.gz /
    JSONL.zst / Parquet) against the tools it offers.

    With `out`, writes ``valid/`` and ``invalid/`` (records verbatim, compressed like their
    input, the input layout mirrored), ``rejects/`` (records that could not be read, with the
    reason), ``violations.parquet`` and ``report.json``. `format` reads every record in that
    format instead of detecting it per record.
    """
    check_formats(format)
    shards, run_dir, names = open_run(inputs, out, overwrite, "toolcalls check", outputs)
    sources: list[tuple[Any, Any]] = [(s, None) for s in shards]
    try:
        return _run(sources, run_dir, format, threads, names, max_record_bytes)
    finally:
        if run_dir is not None:
            run_dir.close()


def outputs(shard: Shard) -> list[str]:
    """Where a check run writes an input's records (relative to OUT)."""
    return [f"valid/{shard.relative}", f"invalid/{shard.relative}", f"rejects/{jsonl_name(shard)}"]


def check_records(
    records: Iterable[dict[str, Any] | str],
    *,
    format: str | None = None,
    threads: int | None = None,
) -> CheckResult:
    """Checks records in memory (dicts or JSON texts); ``file`` is ``"<records>"``."""
    check_formats(format)
    return _run([(None, records)], None, format, threads, ["<records>"], MAX_RECORD_BYTES)


def _run(
    sources: list[tuple[Any, Any]],
    run_dir: RunDir | None,
    format: str | None,
    threads: int | None,
    inputs: list[str],
    max_record_bytes: int,
) -> CheckResult:
    engine = _fastscan.ToolCalls(threads=threads)
    out = run_dir.out if run_dir is not None else None
    part = run_dir.staged(out / VIOLATIONS) if run_dir is not None and out is not None else None
    writer = pq.ParquetWriter(part, VIOLATION_SCHEMA, compression="zstd") if part else None

    def committed(run: FileRun) -> None:
        # With an output directory, a file's violations go to violations.parquet as soon as
        # the file is done, so memory does not grow with the run.
        if writer is not None:
            for t in run.tables.pop("violations", []):
                writer.write_table(t.cast(VIOLATION_SCHEMA))

    try:
        entries, runs, written = run_files(
            sources, run_dir, STATUSES, _Checker(engine, format), max_record_bytes, committed
        )
    except BaseException:
        if writer is not None and part is not None:
            writer.close()
            part.unlink(missing_ok=True)
        raise
    if writer is not None:
        writer.close()
    violations = concat([t for r in runs for t in r.tables["violations"]], VIOLATION_SCHEMA)
    if run_dir is not None and out is not None and part is not None:
        run_dir.commit([(part, out / VIOLATIONS)])
        written.append(VIOLATIONS)
    calls = merged(runs, "calls")
    tool_violations = merged(runs, "tool_violations")
    report = {
        "command": "toolcalls check",
        "inputs": inputs,
        "format": format or "auto",
        "totals": totals(entries, STATUSES),
        "files": entries,
        "rules": merged(runs, "rules", zero=[code for code, _ in RULES]),
        "rejects": merged(runs, "rejects"),
        "formats": merged(runs, "formats"),
        "modes": merged(runs, "modes", zero=MODES),
        "tools": _top_tools(calls, tool_violations),
        "tools_total": len(set(calls) | set(tool_violations)),
        "outputs": written,
    }
    if run_dir is not None:
        run_dir.finish(report)
    records = concat([t for r in runs for t in r.tables["records"]], RECORD_SCHEMA)
    return CheckResult(report=report, records=records, violations=violations)
