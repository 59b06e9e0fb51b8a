"""``extract``: from documents (typically a filter run's ``OUT/kept``) to tool specs, the
example calls beside them, and, with ``emit``, training records.

The extractors run in the Rust core (``fastscan-core/src/toolcalls/extract``); this module
streams the documents through them and writes ``tools.jsonl``, ``calls.jsonl``,
``rejected.jsonl`` (specs not emitted, with the reason), ``report.json``, ``report.html`` and,
with ``emit``, ``records.<format>.jsonl``.

An emitted training record offers the tools of its document and, for each call found beside
them, makes the call as the assistant turn after the paragraph that precedes the call in the
document (the user turn; left out when there is none). A document with specs but no call
gives one record with the tool list and no messages: a call is never invented. Every emitted
record is checked (``fastscan toolcalls check``) and converted losslessly, or not emitted and
counted.
"""

from __future__ import annotations

import copy
import html
import json
import os
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq

from fastscan import _fastscan
from fastscan.filter.guard import missing_text_field, no_text_message
from fastscan.filter.plan import Shard
from fastscan.toolcalls import lmflow
from fastscan.toolcalls.check import check_records
from fastscan.toolcalls.convert import convert_records
from fastscan.toolcalls.files import (
    MAX_RECORD_BYTES,
    Block,
    RunDir,
    _blocks,
    _records_blocks,
    check_formats,
    open_run,
    prefetched,
)

#: ``(name, what it finds)`` for every extractor.
EXTRACTORS: tuple[tuple[str, str], ...] = tuple(_fastscan.toolcall_tables()["extractors"])
#: Examples per extractor in report.html.
EXAMPLES = 3


@dataclass
class ExtractResult:
    """What ``extract`` found: ``report`` the counts of report.json, ``records`` the emitted
    records; ``tools``, ``calls`` and ``rejected`` (the rows of tools.jsonl, calls.jsonl and
    rejected.jsonl) are filled in memory only without an output directory."""

    tools: list[dict[str, Any]] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    records: list[str] = field(default_factory=list)
    report: dict[str, Any] = field(default_factory=dict)


class _Tally:
    def __init__(self) -> None:
        self.docs = 0
        self.unreadable: Counter[str] = Counter()
        self.docs_with: Counter[str] = Counter()
        self.specs: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()
        self.rejected: dict[str, Counter[str]] = defaultdict(Counter)
        self.examples: dict[str, list[dict[str, Any]]] = defaultdict(list)


class _Sink:
    """Where rows go: JSON lines to OUT's files (written in the run's staging, moved into
    place at the end), and parsed into the result when `keep` (the in-memory API). `mark` and
    `rewind` take back what one input file wrote when it fails part way."""

    NAMES = ("tools", "calls", "rejected")

    def __init__(self, run_dir: RunDir | None, keep: bool) -> None:
        self.run_dir = run_dir
        self.keep = keep
        self.files: dict[str, tuple[IO[str], Path]] = {}
        if run_dir is not None:
            for n in self.NAMES:
                final = run_dir.out / f"{n}.jsonl"
                # Closed by close(), on success and on failure alike.
                fh = open(run_dir.staged(final), "w", encoding="utf-8")  # noqa: SIM115
                self.files[n] = (fh, final)

    def write(self, name: str, lines: list[str], result: ExtractResult) -> None:
        if name in self.files:
            self.files[name][0].write("".join(line + "\n" for line in lines))
        if self.keep:
            getattr(result, name).extend(json.loads(line) for line in lines)

    def mark(self, result: ExtractResult) -> tuple[dict[str, int], dict[str, int]]:
        """Where each output stands now."""
        positions = {n: fh.tell() for n, (fh, _) in self.files.items()}
        lengths = {n: len(getattr(result, n)) for n in (*self.NAMES, "records")}
        return positions, lengths

    def rewind(self, mark: tuple[dict[str, int], dict[str, int]], result: ExtractResult) -> None:
        """Takes back everything written since `mark`."""
        positions, lengths = mark
        for n, (fh, _) in self.files.items():
            fh.seek(positions[n])
            fh.truncate()
        for n, length in lengths.items():
            del getattr(result, n)[length:]

    def close(self, commit: bool) -> None:
        for fh, _ in self.files.values():
            fh.close()
        if commit and self.run_dir is not None:
            self.run_dir.commit([(Path(fh.name), final) for fh, final in self.files.values()])


def _source(file: str, record: int, start: int, end: int) -> str:
    return f'{{"file": {json.dumps(file)}, "record": {record}, "start": {start}, "end": {end}}}'


def _run_block(
    engine: Any,
    b: Block,
    file: str,
    text_field: str | None,
    tally: _Tally,
    sink: _Sink,
    result: ExtractResult,
    want_docs: bool,
) -> list[tuple[list[dict[str, Any]], list[dict[str, Any]]]]:
    """Extracts one block into the sink; returns, when `want_docs`, per document with specs
    ``(tools, calls)`` parsed (for emitting records)."""
    docs, specs, calls, rejected = engine.extract(b.lines, text_field=text_field)
    rows = b.rows.to_pylist()
    errors = docs.column("error").to_pylist()
    over = b.oversized.to_pylist()
    tally.docs += len(rows)
    for e, o in zip(errors, over, strict=True):
        if o:
            tally.unreadable["oversized"] += 1
        elif e is not None:
            tally.unreadable["no text"] += 1
    col = specs.to_pydict()
    lines: list[str] = []
    spec_of: dict[tuple[int, str], str] = {}
    docs_of: dict[int, list[int]] = defaultdict(list)
    for k, (doc, name, desc, params, start, end, ext, syntax) in enumerate(
        zip(
            col["doc"],
            col["name"],
            col["description"],
            col["parameters"],
            col["start"],
            col["end"],
            col["extractor"],
            col["syntax"],
            strict=True,
        )
    ):
        described = (
            "" if desc is None else f'"description": {json.dumps(desc, ensure_ascii=False)}, '
        )
        lines.append(
            f'{{"name": {json.dumps(name, ensure_ascii=False)}, {described}"parameters": {params}, '
            f'"source": {_source(file, rows[doc], start, end)}, '
            f'"extractor": "{ext}", "syntax": "{syntax}"}}'
        )
        tally.specs[ext] += 1
        spec_of[(doc, name)] = ext
        docs_of[doc].append(k)
        if len(tally.examples[ext]) < EXAMPLES:
            tally.examples[ext].append(json.loads(lines[-1]))
    for ext in {(d, e) for (d, _), e in spec_of.items()}:
        tally.docs_with[ext[1]] += 1
    tally.docs_with["any"] += len(docs_of)
    sink.write("tools", lines, result)
    ccol = calls.to_pydict()
    call_lines: list[str] = []
    calls_of: dict[int, list[int]] = defaultdict(list)
    for k, (doc, name, args, start, end, ext, ctx) in enumerate(
        zip(
            ccol["doc"],
            ccol["name"],
            ccol["arguments"],
            ccol["start"],
            ccol["end"],
            ccol["extractor"],
            ccol["context"],
            strict=True,
        )
    ):
        call_lines.append(
            f'{{"name": {json.dumps(name, ensure_ascii=False)}, "arguments": {args}, '
            f'"source": {_source(file, rows[doc], start, end)}, "extractor": "{ext}", '
            f'"context": {json.dumps(ctx, ensure_ascii=False)}}}'
        )
        # A call counts for the extractor of the spec it was found beside.
        tally.calls[spec_of.get((doc, name), ext)] += 1
        calls_of[doc].append(k)
    sink.write("calls", call_lines, result)
    rcol = rejected.to_pydict()
    rejected_lines = []
    for doc, ext, name, reason in zip(
        rcol["doc"], rcol["extractor"], rcol["name"], rcol["reason"], strict=True
    ):
        tally.rejected[ext][reason.split(":")[0]] += 1
        rejected_lines.append(
            json.dumps(
                {
                    "file": file,
                    "record": rows[doc],
                    "extractor": ext,
                    "name": name,
                    "reason": reason,
                },
                ensure_ascii=False,
            )
        )
    sink.write("rejected", rejected_lines, result)
    if not want_docs:
        return []
    return [
        (
            [json.loads(lines[k]) for k in docs_of[d]],
            [json.loads(call_lines[k]) for k in calls_of.get(d, [])],
        )
        for d in sorted(docs_of)
    ]


def _training_records(
    tools: list[dict[str, Any]], calls: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """OpenAI records for one document (see the module docs)."""
    offered = [
        {
            "type": "function",
            "function": {k: t[k] for k in ("name", "description", "parameters") if k in t},
        }
        for t in tools
    ]
    if not offered:
        return []
    if not calls:
        return [{"messages": [], "tools": offered}]
    out = []
    for c in calls:
        messages: list[dict[str, Any]] = []
        if c["context"]:
            messages.append({"role": "user", "content": c["context"]})
        messages.append(
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "type": "function",
                        "function": {"name": c["name"], "arguments": json.dumps(c["arguments"])},
                    }
                ],
            }
        )
        out.append({"messages": messages, "tools": offered})
    return out


def _emit(records: list[dict[str, Any]], fmt: str, counts: Counter[str]) -> list[str]:
    """Checked, converted records as JSON lines; what was not emitted is counted."""
    if not records:
        return []
    checked = check_records(records)
    valid = [
        r
        for r, s in zip(records, checked.records.column("status").to_pylist(), strict=True)
        if s == "valid"
    ]
    counts["failed_check"] += len(records) - len(valid)
    if fmt == "lmflow":  # LMFlow's conversation dataset: one .json document at the end
        out = []
        for record in valid:
            instance, why = lmflow.conversation(record)
            if instance is None:
                counts[f"not_a_conversation:{why}"] += 1
            else:
                out.append(json.dumps(instance, ensure_ascii=False))
        counts["emitted"] += len(out)
        return out
    converted = convert_records(valid, fmt, from_format="openai")
    out = []
    for row in converted.records.to_pylist():
        if row["status"] == "converted":
            out.append(row["output"])
        else:
            counts[f"not_converted:{row['reason']}"] += 1
    counts["emitted"] += len(out)
    return out


def extract(
    inputs: Sequence[str | os.PathLike[str]] | str | os.PathLike[str],
    out: str | os.PathLike[str] | None = None,
    *,
    text_field: str = "text",
    emit: str | None = None,
    threads: int | None = None,
    overwrite: bool = False,
) -> ExtractResult:
    """Extracts tool specs and calls from every document of `inputs` (files, directories,
    globs of JSONL / JSONL.gz / JSONL.zst / Parquet; the text at `text_field`)."""
    check_formats(emit)
    engine = _fastscan.ToolCalls(threads=threads)
    shards, run_dir, names = open_run(inputs, out, overwrite, "extract")
    try:
        result = ExtractResult()
        tally = _Tally()
        emitted: Counter[str] = Counter()
        files: list[dict[str, Any]] = []
        sink = _Sink(run_dir, keep=run_dir is None)
        try:
            for shard in shards:
                file = os.fspath(shard.path)
                # A file that fails part way (corrupt, truncated) takes back what it wrote
                # and is reported with its error; the others go on.
                mark = sink.mark(result)
                saved = copy.deepcopy((tally, emitted))
                try:
                    for b in prefetched(_blocks(shard, MAX_RECORD_BYTES)):
                        for tools, calls in _run_block(
                            engine, b, file, text_field, tally, sink, result, emit is not None
                        ):
                            result.records.extend(
                                _emit(_training_records(tools, calls), emit or "", emitted)
                            )
                    docs = tally.docs - saved[0].docs
                    if (
                        docs
                        and tally.unreadable["no text"] - saved[0].unreadable["no text"] == docs
                    ):
                        raise ValueError(_no_text(shard, text_field, docs))
                except (OSError, ValueError, pa.ArrowException) as e:
                    sink.rewind(mark, result)
                    tally, emitted = saved
                    files.append({"file": file, "documents": 0, "error": str(e)})
                    continue
                files.append({"file": file, "documents": tally.docs - saved[0].docs})
        except BaseException:
            sink.close(commit=False)
            raise
        sink.close(commit=True)
        return _finish(result, tally, emitted, run_dir, names, emit, files)
    finally:
        if run_dir is not None:
            run_dir.close()


def _no_text(shard: Shard, field: str, docs: int) -> str:
    """Why a file gave no document: the text is not at `field` (the keys it has named)."""
    if shard.format == "parquet":
        with open(shard.path, "rb") as handle:
            columns = pq.ParquetFile(handle).schema_arrow.names
        return missing_text_field(field, f"its {docs:,}", columns, seen="columns")
    return no_text_message(shard.path, field, docs)


def extract_texts(
    texts: Iterable[str], *, emit: str | None = None, threads: int | None = None
) -> ExtractResult:
    """Extracts from texts in memory (``file`` is ``"<texts>"``, ``record`` the index)."""
    engine = _fastscan.ToolCalls(threads=threads)
    result = ExtractResult()
    tally = _Tally()
    emitted: Counter[str] = Counter()
    sink = _Sink(None, keep=True)
    for b in _records_blocks(list(texts)):
        for tools, calls in _run_block(
            engine, b, "<texts>", None, tally, sink, result, emit is not None
        ):
            result.records.extend(_emit(_training_records(tools, calls), emit or "", emitted))
    return _finish(result, tally, emitted, None, ["<texts>"], emit, [])


def _finish(
    result: ExtractResult,
    tally: _Tally,
    emitted: Counter[str],
    run_dir: RunDir | None,
    inputs: list[str],
    emit: str | None,
    files: list[dict[str, Any]],
) -> ExtractResult:
    per = {}
    for name, _ in EXTRACTORS:
        per[name] = {
            "documents_seen": tally.docs,
            "documents_with_spec": tally.docs_with[name],
            "specs": tally.specs[name],
            "rejected": dict(tally.rejected.get(name, {})),
            "calls": tally.calls[name],
        }
    result.report = {
        "command": "extract",
        "inputs": inputs,
        "documents": tally.docs,
        "documents_unreadable": dict(tally.unreadable),
        "documents_with_spec": tally.docs_with["any"],
        "specs": sum(tally.specs.values()),
        "calls": sum(tally.calls.values()),
        "extractors": per,
        "emit": {"format": emit, **dict(emitted)} if emit else None,
        "files": files,
        "failed": sum(1 for f in files if f.get("error")),
        "outputs": [],
    }
    if run_dir is not None:
        names = ["tools.jsonl", "calls.jsonl", "rejected.jsonl", "report.html"]
        texts = {"report.html": _html(result.report, tally)}
        if emit == "lmflow":
            name = "records.lmflow.json"
            texts[name] = lmflow.document([json.loads(r) for r in result.records])
            names.append(name)
        elif emit:
            name = f"records.{emit}.jsonl"
            texts[name] = "".join(r + "\n" for r in result.records)
            names.append(name)
        pairs = []
        for name, text in texts.items():
            final = run_dir.out / name
            part = run_dir.staged(final)
            part.write_text(text, encoding="utf-8")
            pairs.append((part, final))
        run_dir.commit(pairs)
        result.report["outputs"] = names
        run_dir.finish(result.report)
    return result


def _html(report: dict[str, Any], tally: _Tally) -> str:
    e = html.escape
    rows = ""
    for name, s in report["extractors"].items():
        rejected = ", ".join(f"{k} {v}" for k, v in s["rejected"].items()) or "-"
        rows += (
            f"<tr><td>{e(name)}</td><td>{s['documents_with_spec']}</td><td>{s['specs']}</td>"
            f"<td>{e(rejected)}</td><td>{s['calls']}</td></tr>"
        )
    examples = ""
    for name, _ in EXTRACTORS:
        for t in tally.examples.get(name, []):
            src = t["source"]
            examples += (
                f"<h3>{e(name)}: <code>{e(t['name'])}</code></h3>"
                f"<p>{e(src['file'])} record {src['record']}, "
                f"characters {src['start']}-{src['end']} ({e(t['syntax'])})</p>"
                f"<pre>{e(json.dumps(t['parameters'], indent=2)[:2000])}</pre>"
            )
    return (
        "<!doctype html><meta charset=utf-8><title>fastscan extract</title>"
        "<style>body{font:14px system-ui;margin:2em}td,th{padding:2px 8px;text-align:right}"
        "td:first-child{text-align:left}pre{background:#f4f4f4;padding:8px}</style>"
        f"<h1>fastscan extract</h1><p>{report['documents']:,} documents, "
        f"{report['documents_with_spec']:,} with a spec, {report['specs']:,} specs, "
        f"{report['calls']:,} calls</p>"
        "<table><tr><th>extractor</th><th>documents with a spec</th><th>specs</th><th>rejected</th>"
        f"<th>calls</th></tr>{rows}</table><h2>Examples</h2>{examples}"
    )
