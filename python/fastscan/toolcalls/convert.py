"""``convert``: records to another format, losslessly or with a named, counted loss."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from fastscan import _fastscan
from fastscan.filter.plan import Shard
from fastscan.toolcalls.files import (
    MAX_RECORD_BYTES,
    Block,
    FileRun,
    RunDir,
    RunResult,
    ToolcallsError,
    check_formats,
    concat,
    jsonl_name,
    mark_oversized,
    merged,
    open_run,
    run_files,
    totals,
)
from fastscan.toolcalls.tables import LOSSES

STATUSES = ("converted", "not_converted", "rejected")

RECORD_SCHEMA = pa.schema(
    [
        ("file", pa.string()),
        ("record", pa.uint64()),
        ("status", pa.string()),
        ("output", pa.string()),
        ("from", pa.string()),
        ("reason", pa.string()),
        ("detail", pa.string()),
        ("lost", pa.list_(pa.string())),
    ]
)


@dataclass
class ConvertResult(RunResult):
    """What ``convert`` did. ``records``: one row per record (file, record, status, output,
    from, reason, detail, lost); empty with an output directory (the converted files hold
    the output)."""

    records: pa.Table


def _allowed(allow: Sequence[str]) -> list[str]:
    codes = [c for c, _ in LOSSES]
    for a in allow:
        if a not in codes:
            raise ToolcallsError(f"unknown loss {a!r}; the losses are {', '.join(codes)}")
    return list(allow)


class _Converter:
    """The per-block step of a convert run."""

    def __init__(self, engine: Any, to: str, from_format: str | None, allow: list[str]) -> None:
        self.engine = engine
        self.to = to
        self.from_format = from_format
        self.allow = allow

    def __call__(self, run: FileRun, b: Block) -> None:
        res = self.engine.convert(b.lines, self.to, from_format=self.from_format, allow=self.allow)
        res = mark_oversized(b, res)
        status = res.column("status")
        run.tally(status)
        not_converted = pc.equal(status, "not_converted")
        rejected = pc.equal(status, "rejected")
        run.count("not_converted", res.column("reason").filter(not_converted))
        run.count("rejects", res.column("reason").filter(rejected))
        run.count("lost", pc.list_flatten(res.column("lost")))
        run.count("formats", res.column("from"))
        run.keep("records", res, b.rows)
        if run.shard is None:
            return
        converted = pc.equal(status, "converted")
        if pc.any(converted).as_py():
            run.write_lines(
                f"converted/{jsonl_name(run.shard)}", res.column("output").filter(converted)
            )
        run.write_rejects("not_converted", b, res, not_converted)
        run.write_rejects("rejects", b, res, rejected)


def convert(
    inputs: Sequence[str | os.PathLike[str]] | str | os.PathLike[str],
    to: str,
    out: str | os.PathLike[str],
    *,
    from_format: str | None = None,
    allow: Sequence[str] = (),
    threads: int | None = None,
    overwrite: bool = False,
    max_record_bytes: int = MAX_RECORD_BYTES,
) -> ConvertResult:
    """Converts every record of `inputs` to the format `to`, into ``out/converted/``
    (the input layout mirrored; JSONL compressed like the input, ``NAME.parquet.jsonl.zst``
    for Parquet input).

    A record the target cannot hold whole is not converted: it goes to ``not_converted/`` with
    the loss code and what was lost, unless that loss is in `allow` (then it is converted
    without the part and counted under ``lost``). Records that cannot be read go to
    ``rejects/``. Every conversion that drops nothing is verified by reading the written record
    back (``not_representable`` when it differs).
    """
    check_formats(to, from_format)
    allowed = _allowed(allow)
    shards, run_dir, names = open_run(inputs, out, overwrite, "toolcalls convert", outputs)
    sources: list[tuple[Any, Any]] = [(s, None) for s in shards]
    try:
        return _run(sources, run_dir, to, from_format, allowed, threads, names, max_record_bytes)
    finally:
        if run_dir is not None:
            run_dir.close()


def outputs(shard: Shard) -> list[str]:
    """Where a convert run writes an input's records (relative to OUT): results in
    ``converted/``, apart from the records it could not convert or read."""
    name = jsonl_name(shard)
    return [f"converted/{name}", f"not_converted/{name}", f"rejects/{name}"]


def convert_records(
    records: Iterable[dict[str, Any] | str],
    to: str,
    *,
    from_format: str | None = None,
    allow: Sequence[str] = (),
    threads: int | None = None,
) -> ConvertResult:
    """Converts records in memory; the converted JSON is in ``records["output"]``."""
    check_formats(to, from_format)
    allowed = _allowed(allow)
    return _run(
        [(None, records)], None, to, from_format, allowed, threads, ["<records>"], MAX_RECORD_BYTES
    )


def _run(
    sources: list[tuple[Any, Any]],
    run_dir: RunDir | None,
    to: str,
    from_format: str | None,
    allow: list[str],
    threads: int | None,
    inputs: list[str],
    max_record_bytes: int,
) -> ConvertResult:
    engine = _fastscan.ToolCalls(threads=threads)
    step = _Converter(engine, to, from_format, allow)
    entries, runs, written = run_files(sources, run_dir, STATUSES, step, max_record_bytes)
    report = {
        "command": "toolcalls convert",
        "inputs": inputs,
        "to": to,
        "from": from_format or "auto",
        "allow": allow,
        "totals": totals(entries, STATUSES),
        "files": entries,
        "not_converted": merged(runs, "not_converted"),
        "rejects": merged(runs, "rejects"),
        "lost": merged(runs, "lost"),
        "formats": merged(runs, "formats"),
        "outputs": written,
    }
    if run_dir is not None:
        run_dir.finish(report)
    return ConvertResult(
        records=concat([t for r in runs for t in r.tables["records"]], RECORD_SCHEMA), report=report
    )
