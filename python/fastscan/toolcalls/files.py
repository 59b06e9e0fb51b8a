"""Streaming tool-call files through the core's checker and converter.

Inputs are listed as ``fastscan-filter`` lists them (files, directories, globs; JSONL,
JSONL.gz, JSONL.zst, Parquet). JSONL is read by the core's line reader in blocks; Parquet rows
become JSON records. Every record ends in exactly one place, so for every file
``read == valid + invalid + rejected`` (check) and ``read == converted + not_converted +
rejected`` (convert). Each output is written under a ``.part`` name and renamed when its input
is done; ``report.json`` is written last.
"""

from __future__ import annotations

import json
import os

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from fastscan import _fastscan
from fastscan.filter.plan import PlanError, Shard, plan
from fastscan.toolcalls.tables import FORMATS, LOSSES, MODES, RULES

REPORT = "report.json"
VIOLATIONS = "violations.parquet"
PARQUET_ROWS = 8192
#: The longest record read whole; a longer one is a counted ``oversized`` reject.
MAX_RECORD_BYTES = 64 << 20


class ToolcallsError(ValueError):
    """Bad arguments or an output directory that cannot be used (exit 2)."""


@dataclass
class CheckResult:
    """What ``check`` found. ``records``: one row per record (file, record, status, format,
    mode, violations, reason, detail); ``violations``: one row per violation (file, record,
    rule, path, message, tool); ``report``: the counts written to report.json."""

    records: pa.Table
    violations: pa.Table
    report: dict[str, Any]

    @property
    def ok(self) -> bool:
        return not any(f.get("error") for f in self.report["files"])


@dataclass
class ConvertResult:
    """What ``convert`` did. ``records``: one row per record (file, record, status, output,
    from, reason, detail, lost); ``report``: the counts written to report.json."""

    records: pa.Table
    report: dict[str, Any]

    @property
    def ok(self) -> bool:
        return not any(f.get("error") for f in self.report["files"])


# ---- reading ----


@dataclass
class _Block:
    rows: pa.Array  # uint64 record index in its file
    lines: pa.Array  # the records' JSON (binary or string)
    oversized: pa.Array  # bool
    table: pa.RecordBatch | None = None  # the Parquet rows themselves


def _blocks(shard: Shard, max_record_bytes: int) -> Iterator[_Block]:
    if shard.format == "parquet":
        with open(shard.path, "rb") as fh:
            pf = pq.ParquetFile(fh)
            first = 0
            for batch in pf.iter_batches(batch_size=PARQUET_ROWS):
                texts = [json.dumps(r, ensure_ascii=False, default=str) for r in batch.to_pylist()]
                n = len(texts)
                yield _Block(
                    rows=pa.array(range(first, first + n), pa.uint64()),
                    lines=pa.array(texts, pa.large_string()),
                    oversized=pa.array([False] * n),
                    table=batch,
                )
                first += n
        return
    if shard.format is None:
        raise ToolcallsError(f"{shard.path}: not a .jsonl[.gz|.zst] or .parquet file")
    for b in _fastscan.LineReader(shard.path, max_record_bytes=max_record_bytes):
        yield _Block(rows=b.column("row"), lines=b.column("line"), oversized=b.column("oversized"))


def _records_blocks(records: Iterable[dict[str, Any] | str], size: int = 4096) -> Iterator[_Block]:
    chunk: list[str] = []
    first = 0

    def block() -> _Block:
        return _Block(
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
    """The files of one input under OUT, written as ``.part`` and renamed on ``commit``."""

    def __init__(self) -> None:
        self.parts: list[tuple[Path, Path]] = []
        self.lines: dict[Path, Any] = {}
        self.parquet: dict[Path, pq.ParquetWriter] = {}

    def _part(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        part = path.with_name(path.name + ".part")
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
        for part, final in self.parts:
            os.replace(part, final)
        return [final for _, final in self.parts]

    def abandon(self) -> None:
        for w in self.lines.values():
            try:
                w.finish()
            except OSError:
                pass
        for p in self.parquet.values():
            try:
                p.close()
            except (OSError, ValueError):
                pass
        for part, _ in self.parts:
            part.unlink(missing_ok=True)


# ---- the output directory ----


def _prepare(out: Path, overwrite: bool) -> None:
    """Refuses an output directory holding anything unless ``overwrite``; then removes only
    what an earlier run listed in its report (and the report), never a user's files."""
    if out.exists() and not out.is_dir():
        raise ToolcallsError(f"{out} exists and is not a directory")
    if not out.exists() or not any(out.iterdir()):
        out.mkdir(parents=True, exist_ok=True)
        return
    if not overwrite:
        raise ToolcallsError(f"{out} is not empty; pass --overwrite to replace an earlier run")
    report = out / REPORT
    try:
        listed = json.loads(report.read_text())["outputs"]
    except (OSError, ValueError, KeyError, TypeError):
        listed = []
    for rel in listed:
        target = (out / rel).resolve()
        if target.is_relative_to(out.resolve()) and target.is_file():
            target.unlink()
    report.unlink(missing_ok=True)
    for dirpath, _, _ in sorted(os.walk(out), key=lambda t: -len(t[0])):
        d = Path(dirpath)
        if d != out and not any(d.iterdir()):
            d.rmdir()


def _shards(inputs: Sequence[str | os.PathLike[str]], out: Path | None) -> list[Shard]:
    try:
        shards, _ = plan(list(inputs), exclude=[out] if out is not None else [])
    except PlanError as e:
        raise ToolcallsError(str(e)) from e
    return shards


def _stem(relative: str) -> str:
    for suffix in (".jsonl.gz", ".jsonl.zst", ".jsonl.zstd", ".jsonl", ".json", ".parquet"):
        if relative.endswith(suffix):
            return relative[: -len(suffix)]
    return relative


def _jsonl_name(shard: Shard) -> str:
    """The JSONL name of a written-out file for `shard`: its own name for JSONL input,
    ``.jsonl.zst`` for Parquet."""
    if shard.format == "parquet":
        return _stem(shard.relative) + ".jsonl.zst"
    return shard.relative


def _reject_lines(
    file: str, rows: pa.Array, lines: pa.Array, idx: list[int], reasons: list[str], details: list[str]
) -> pa.Array:
    out = []
    for i, reason, detail in zip(idx, reasons, details, strict=True):
        raw = lines[i].as_py()
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        out.append(
            json.dumps(
                {"file": file, "record": rows[i].as_py(), "reason": reason, "detail": detail, "line": text},
                ensure_ascii=False,
            )
        )
    return pa.array(out, pa.large_string())


def _with_file(batch: pa.RecordBatch, file: str, rows: pa.Array, index_column: str) -> pa.Table:
    """`batch` with `file` and `record` (the record's index in its file) in front."""
    n = batch.num_rows
    index = batch.column(index_column) if index_column in batch.schema.names else None
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


def _finish_report(out: Path | None, report: dict[str, Any]) -> None:
    if out is None:
        return
    tmp = out / (REPORT + ".part")
    tmp.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    os.replace(tmp, out / REPORT)


# ---- check ----


def _check_blocks(
    engine: Any,
    blocks: Iterable[_Block],
    format: str | None,
    on_block: Callable[[_Block, pa.RecordBatch, pa.RecordBatch], None],
) -> None:
    for b in blocks:
        records, violations = engine.check(b.lines, format=format)
        if pc.any(b.oversized).as_py():
            over = b.oversized
            status = pc.if_else(over, "rejected", records.column("status"))
            reason = pc.if_else(over, "oversized", records.column("reason"))
            detail = pc.if_else(over, "the record is longer than the longest record read whole", records.column("detail"))
            keep = pc.invert(pc.take(over, violations.column("record")))
            violations = violations.filter(keep)
            records = records.set_column(0, "status", status)
            records = records.set_column(4, "reason", reason)
            records = records.set_column(5, "detail", detail)
        on_block(b, records, violations)


def check(
    inputs: Sequence[str | os.PathLike[str]] | str | os.PathLike[str],
    out: str | os.PathLike[str] | None = None,
    *,
    format: str | None = None,
    threads: int | None = None,
    overwrite: bool = False,
    max_record_bytes: int = MAX_RECORD_BYTES,
) -> CheckResult:
    """Checks every record of `inputs` against the tools it offers.

    With `out`, writes ``valid/`` and ``invalid/`` (records verbatim, compressed like their
    input, the input layout mirrored), ``rejects/`` (records that could not be read, with the
    reason), ``violations.parquet`` and ``report.json``. `format` reads every record in that
    format instead of detecting it per record.
    """
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    if format is not None and format not in FORMATS:
        raise ToolcallsError(f"unknown format {format!r}; the formats are {', '.join(FORMATS)}")
    out_dir = Path(out) if out is not None else None
    shards = _shards(inputs, out_dir)
    if out_dir is not None:
        _prepare(out_dir, overwrite)
    engine = _fastscan.ToolCalls(threads=threads)
    return _run_check(
        engine, [(s, None) for s in shards], out_dir, format, [os.fspath(i) for i in inputs], max_record_bytes
    )


def check_records(
    records: Iterable[dict[str, Any] | str], *, format: str | None = None, threads: int | None = None
) -> CheckResult:
    """Checks records in memory (dicts or JSON texts); ``file`` is ``"<records>"``."""
    engine = _fastscan.ToolCalls(threads=threads)
    return _run_check(engine, [(None, records)], None, format, ["<records>"], MAX_RECORD_BYTES)


def _run_check(
    engine: Any,
    sources: list[tuple[Shard | None, Iterable[dict[str, Any] | str] | None]],
    out: Path | None,
    format: str | None,
    inputs: list[str],
    max_record_bytes: int,
) -> CheckResult:
    record_tables: list[pa.Table] = []
    violation_tables: list[pa.Table] = []
    vwriter: pq.ParquetWriter | None = None
    files: list[dict[str, Any]] = []
    rules: Counter[str] = Counter({code: 0 for code, _ in RULES})
    rejects: Counter[str] = Counter()
    formats: Counter[str] = Counter()
    modes: Counter[str] = Counter({m: 0 for m in MODES})
    calls: Counter[str] = Counter()
    tool_violations: Counter[str] = Counter()
    outputs: list[str] = []
    for shard, records in sources:
        file_name = os.fspath(shard.path) if shard is not None else "<records>"
        entry: dict[str, Any] = {"file": file_name, "read": 0, "valid": 0, "invalid": 0, "rejected": 0}
        outs = _Outputs()
        file_records: list[pa.Table] = []
        file_violations: list[pa.Table] = []
        counts: dict[str, Counter[str]] = {k: Counter() for k in ("rules", "rejects", "formats", "modes", "calls", "tv")}

        def on_block(b: _Block, rec: pa.RecordBatch, vio: pa.RecordBatch) -> None:
            status = rec.column("status")
            entry["read"] += len(status)
            for k, n in _counts(status).items():
                entry[k] += n
            counts["formats"].update(_counts(rec.column("format")))
            counts["modes"].update(_counts(rec.column("mode")))
            counts["calls"].update(_counts(pc.list_flatten(rec.column("called"))))
            counts["rules"].update(_counts(vio.column("rule")))
            counts["tv"].update(_counts(vio.column("tool")))
            rejected = pc.equal(status, "rejected")
            counts["rejects"].update(_counts(rec.column("reason").filter(rejected)))
            file_records.append(_with_file(rec.drop_columns(["called"]), file_name, b.rows, "__none__"))
            file_violations.append(_with_file(vio, file_name, b.rows, "record"))
            if out is None or shard is None:
                return
            for kind in ("valid", "invalid"):
                mask = pc.equal(status, kind)
                if not pc.any(mask).as_py():
                    continue
                target = out / kind / shard.relative
                if b.table is not None:
                    outs.parquet_to(target, b.table.schema, _parquet_compression(shard.path)).write_batch(
                        b.table.filter(mask)
                    )
                else:
                    outs.lines_to(target).write(b.lines, mask)
            if pc.any(rejected).as_py():
                idx = [i for i, r in enumerate(rejected.to_pylist()) if r]
                lines = _reject_lines(
                    file_name,
                    b.rows,
                    b.lines,
                    idx,
                    [rec.column("reason")[i].as_py() for i in idx],
                    [rec.column("detail")[i].as_py() for i in idx],
                )
                outs.lines_to(out / "rejects" / _jsonl_name(shard)).write(lines)

        blocks = _blocks(shard, max_record_bytes) if shard is not None else _records_blocks(records or [])
        try:
            _check_blocks(engine, blocks, format, on_block)
            written = outs.commit()
        except (OSError, ValueError, pa.ArrowException) as e:
            outs.abandon()
            files.append({"file": file_name, "read": 0, "valid": 0, "invalid": 0, "rejected": 0, "error": str(e)})
            continue
        if out is not None:
            outputs.extend(os.fspath(p.relative_to(out)) for p in written)
            for t in file_violations:
                if t.num_rows:
                    if vwriter is None:
                        vwriter = pq.ParquetWriter(out / (VIOLATIONS + ".part"), t.schema, compression="zstd")
                    vwriter.write_table(t)
        files.append(entry)
        record_tables.extend(file_records)
        violation_tables.extend(file_violations)
        rules.update(counts["rules"])
        rejects.update(counts["rejects"])
        formats.update(counts["formats"])
        modes.update(counts["modes"])
        calls.update(counts["calls"])
        tool_violations.update(counts["tv"])
    violations = _concat(violation_tables, _VIOLATION_SCHEMA)
    if out is not None:
        if vwriter is None:
            pq.write_table(violations, out / (VIOLATIONS + ".part"), compression="zstd")
        else:
            vwriter.close()
        os.replace(out / (VIOLATIONS + ".part"), out / VIOLATIONS)
        outputs.append(VIOLATIONS)
    totals = {k: sum(f[k] for f in files) for k in ("read", "valid", "invalid", "rejected")}
    report = {
        "command": "toolcalls check",
        "inputs": inputs,
        "format": format or "auto",
        "totals": totals,
        "files": files,
        "rules": dict(rules),
        "rejects": dict(rejects),
        "formats": dict(formats),
        "modes": dict(modes),
        "tools": {
            name: {"calls": calls[name], "violations": tool_violations[name]}
            for name in sorted(set(calls) | set(tool_violations), key=lambda n: (-calls[n], n))
        },
        "outputs": outputs,
    }
    _finish_report(out, report)
    return CheckResult(records=_concat(record_tables, _RECORD_SCHEMA), violations=violations, report=report)


_VIOLATION_SCHEMA = pa.schema(
    [("file", pa.string()), ("record", pa.uint64()), ("rule", pa.string()), ("path", pa.string()),
     ("message", pa.string()), ("tool", pa.string())]
)
_RECORD_SCHEMA = pa.schema(
    [("file", pa.string()), ("record", pa.uint64()), ("status", pa.string()), ("format", pa.string()),
     ("mode", pa.string()), ("violations", pa.uint32()), ("reason", pa.string()), ("detail", pa.string())]
)


def _concat(tables: list[pa.Table], schema: pa.Schema) -> pa.Table:
    if not tables:
        return schema.empty_table()
    return pa.concat_tables(tables)


def _parquet_compression(path: Path) -> str:
    with open(path, "rb") as fh:
        md = pq.ParquetFile(fh).metadata
        if md.num_row_groups and md.num_columns:
            return str(md.row_group(0).column(0).compression).lower()
    return "zstd"


# ---- convert ----


def _check_allow(allow: Sequence[str]) -> list[str]:
    codes = [c for c, _ in LOSSES]
    for a in allow:
        if a not in codes:
            raise ToolcallsError(f"unknown loss {a!r}; the losses are {', '.join(codes)}")
    return list(allow)


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
    """Converts every record of `inputs` to the format `to`, into `out` (the input layout
    mirrored; JSONL compressed like the input, ``.jsonl.zst`` for Parquet input).

    A record the target cannot hold whole is not converted: it goes to ``not_converted/`` with
    the loss code and what was lost, unless that loss is in `allow` (then it is converted
    without the part and counted under ``lost``). Records that cannot be read go to
    ``rejects/``. Every conversion that drops nothing is verified by reading the written record
    back (``not_representable`` when it differs).
    """
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    if to not in FORMATS:
        raise ToolcallsError(f"unknown format {to!r}; the formats are {', '.join(FORMATS)}")
    if from_format is not None and from_format not in FORMATS:
        raise ToolcallsError(f"unknown format {from_format!r}; the formats are {', '.join(FORMATS)}")
    allowed = _check_allow(allow)
    out_dir = Path(out)
    shards = _shards(inputs, out_dir)
    _prepare(out_dir, overwrite)
    engine = _fastscan.ToolCalls(threads=threads)
    return _run_convert(
        engine, [(s, None) for s in shards], out_dir, to, from_format, allowed, [os.fspath(i) for i in inputs],
        max_record_bytes,
    )


def convert_records(
    records: Iterable[dict[str, Any] | str],
    to: str,
    *,
    from_format: str | None = None,
    allow: Sequence[str] = (),
    threads: int | None = None,
) -> ConvertResult:
    """Converts records in memory; the converted JSON is in ``records["output"]``."""
    if to not in FORMATS:
        raise ToolcallsError(f"unknown format {to!r}; the formats are {', '.join(FORMATS)}")
    engine = _fastscan.ToolCalls(threads=threads)
    return _run_convert(
        engine, [(None, records)], None, to, from_format, _check_allow(allow), ["<records>"], MAX_RECORD_BYTES
    )


def _run_convert(
    engine: Any,
    sources: list[tuple[Shard | None, Iterable[dict[str, Any] | str] | None]],
    out: Path | None,
    to: str,
    from_format: str | None,
    allow: list[str],
    inputs: list[str],
    max_record_bytes: int,
) -> ConvertResult:
    tables: list[pa.Table] = []
    files: list[dict[str, Any]] = []
    reasons: Counter[str] = Counter()
    rejects: Counter[str] = Counter()
    lost: Counter[str] = Counter()
    sources_seen: Counter[str] = Counter()
    outputs: list[str] = []
    for shard, records in sources:
        file_name = os.fspath(shard.path) if shard is not None else "<records>"
        entry: dict[str, Any] = {"file": file_name, "read": 0, "converted": 0, "not_converted": 0, "rejected": 0}
        outs = _Outputs()
        file_tables: list[pa.Table] = []
        counts: dict[str, Counter[str]] = {k: Counter() for k in ("reasons", "rejects", "lost", "from")}

        def on_block(b: _Block) -> None:
            res = engine.convert(b.lines, to, from_format=from_format, allow=allow)
            status = res.column("status")
            if pc.any(b.oversized).as_py():
                over = b.oversized
                status = pc.if_else(over, "rejected", status)
                res = res.set_column(0, "status", status)
                res = res.set_column(1, "output", pc.if_else(over, pa.scalar(None, pa.string()), res.column("output")))
                res = res.set_column(3, "reason", pc.if_else(over, "oversized", res.column("reason")))
            entry["read"] += len(status)
            for k, n in _counts(status).items():
                entry[k] += n
            not_converted = pc.equal(status, "not_converted")
            rejected = pc.equal(status, "rejected")
            counts["reasons"].update(_counts(res.column("reason").filter(not_converted)))
            counts["rejects"].update(_counts(res.column("reason").filter(rejected)))
            counts["lost"].update(_counts(pc.list_flatten(res.column("lost"))))
            counts["from"].update(_counts(res.column("from")))
            file_tables.append(_with_file(res, file_name, b.rows, "__none__"))
            if out is None or shard is None:
                return
            converted = pc.equal(status, "converted")
            if pc.any(converted).as_py():
                outs.lines_to(out / _jsonl_name(shard)).write(res.column("output").filter(converted))
            for kind, mask in (("not_converted", not_converted), ("rejects", rejected)):
                if not pc.any(mask).as_py():
                    continue
                idx = [i for i, m in enumerate(mask.to_pylist()) if m]
                lines = _reject_lines(
                    file_name,
                    b.rows,
                    b.lines,
                    idx,
                    [res.column("reason")[i].as_py() for i in idx],
                    [res.column("detail")[i].as_py() for i in idx],
                )
                outs.lines_to(out / kind / _jsonl_name(shard)).write(lines)

        blocks = _blocks(shard, max_record_bytes) if shard is not None else _records_blocks(records or [])
        try:
            for b in blocks:
                on_block(b)
            written = outs.commit()
        except (OSError, ValueError, pa.ArrowException) as e:
            outs.abandon()
            files.append({"file": file_name, "read": 0, "converted": 0, "not_converted": 0, "rejected": 0,
                          "error": str(e)})
            continue
        if out is not None:
            outputs.extend(os.fspath(p.relative_to(out)) for p in written)
        files.append(entry)
        tables.extend(file_tables)
        reasons.update(counts["reasons"])
        rejects.update(counts["rejects"])
        lost.update(counts["lost"])
        sources_seen.update(counts["from"])
    totals = {k: sum(f[k] for f in files) for k in ("read", "converted", "not_converted", "rejected")}
    report = {
        "command": "toolcalls convert",
        "inputs": inputs,
        "to": to,
        "from": from_format or "auto",
        "allow": allow,
        "totals": totals,
        "files": files,
        "not_converted": dict(reasons),
        "rejects": dict(rejects),
        "lost": dict(lost),
        "formats": dict(sources_seen),
        "outputs": outputs,
    }
    _finish_report(out, report)
    schema = pa.schema(
        [("file", pa.string()), ("record", pa.uint64()), ("status", pa.string()), ("output", pa.string()),
         ("from", pa.string()), ("reason", pa.string()), ("detail", pa.string()), ("lost", pa.list_(pa.string()))]
    )
    return ConvertResult(records=_concat(tables, schema), report=report)


