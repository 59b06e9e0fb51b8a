"""``fastscan toolcalls check`` and ``fastscan toolcalls convert``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from fastscan.terminal import EXIT_FAILED, EXIT_OK, count, status_if_pipe_closes, threads_arg
from fastscan.toolcalls.check import check
from fastscan.toolcalls.convert import convert
from fastscan.toolcalls.extract import EXTRACTORS, extract
from fastscan.toolcalls.tables import FORMATS, LOSSES, RULES


def _print_wrote(out: str | None, report: dict[str, Any]) -> None:
    """``wrote OUT/report.json, violations.parquet, valid/ (3 files), ...``: what the run
    wrote, from its report's outputs."""
    if not out:
        return
    files: list[str] = []
    folders: dict[str, int] = {}
    for rel in report.get("outputs", []):
        head, _, rest = rel.partition("/")
        if rest:
            folders[head] = folders.get(head, 0) + 1
        else:
            files.append(rel)
    parts = ["report.json", *files]
    parts += [f"{name}/ ({count(n, 'file')})" for name, n in sorted(folders.items())]
    print(f"wrote {out}/{', '.join(parts)}")


def _print_files(report: dict[str, Any]) -> bool:
    failed = False
    for f in report["files"]:
        if f.get("error"):
            failed = True
            print(f"{f['file']} failed: {f['error']}", file=sys.stderr)
    return failed


def cmd_check(args: argparse.Namespace) -> int:
    result = check(
        args.files, args.output, format=args.format, threads=args.threads, overwrite=args.overwrite
    )
    r = result.report
    t = r["totals"]
    strict = args.strict and (t["invalid"] or t["rejected"])
    status_if_pipe_closes(EXIT_FAILED if strict or not result.ok else EXIT_OK)
    print(
        f"checked {count(t['read'], 'record')} in {count(len(r['files']), 'file')}: "
        f"{t['valid']:,} valid, "
        f"{t['invalid']:,} invalid, {t['rejected']:,} rejected"
    )
    for code, n in r["rules"].items():
        if n:
            print(f"  {code:<22} {n:,}")
    for reason, n in r["rejects"].items():
        print(f"  rejected: {reason:<12} {n:,}")
    modes = ", ".join(f"{m} {n:,}" for m, n in r["modes"].items() if n)
    if modes:
        print(f"  modes: {modes}")
    _print_wrote(args.output, r)
    failed = _print_files(r)
    if failed or (args.strict and (t["invalid"] or t["rejected"])):
        return EXIT_FAILED
    return EXIT_OK


def cmd_convert(args: argparse.Namespace) -> int:
    allow = [a for part in args.allow_loss for a in part.split(",") if a]
    result = convert(
        args.files,
        args.to,
        args.output,
        from_format=args.from_format,
        allow=allow,
        threads=args.threads,
        overwrite=args.overwrite,
    )
    r = result.report
    t = r["totals"]
    status_if_pipe_closes(EXIT_OK if result.ok else EXIT_FAILED)
    print(
        f"converted {t['converted']:,} of {t['read']:,} records to {args.to}: "
        f"{t['not_converted']:,} not converted, {t['rejected']:,} rejected"
    )
    for code, n in r["not_converted"].items():
        hint = "" if code == "not_representable" else f" (--allow-loss {code} drops it)"
        print(f"  not converted: {code:<18} {n:,}{hint}")
    for code, n in r["lost"].items():
        print(f"  converted without: {code:<14} {n:,}")
    for reason, n in r["rejects"].items():
        print(f"  rejected: {reason:<12} {n:,}")
    _print_wrote(args.output, r)
    return EXIT_FAILED if _print_files(r) else EXIT_OK


def add_parser(sub: Any) -> None:
    """Adds ``toolcalls`` and its subcommands to the ``fastscan`` parser."""
    tc = sub.add_parser(
        "toolcalls",
        help="check function-calling datasets against their tools; convert between formats",
        description="Tool-call datasets. Formats: " + ", ".join(FORMATS) + ".",
    )
    tsub = tc.add_subparsers(dest="toolcalls_command", required=True, metavar="{check,convert}")
    rules = "\n".join(f"  {code:<22} {what}" for code, what in RULES)
    chk = tsub.add_parser(
        "check",
        help="check every record's calls against the tools it offers",
        epilog="rules:\n" + rules + "\n\nexit status: 0 ok, 1 a file failed (or --strict and "
        "invalid / rejected records), 2 usage error",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    chk.add_argument("files", nargs="+", help=".jsonl[.gz|.zst] / .parquet files, dirs or globs")
    chk.add_argument(
        "-o",
        "--output",
        help="write valid/, invalid/, rejects/, violations.parquet, report.json here",
    )
    chk.add_argument(
        "--format", choices=FORMATS, help="read every record as this format (default: detect)"
    )
    chk.add_argument(
        "--strict", action="store_true", help="exit 1 when any record is invalid or rejected"
    )
    chk.add_argument(
        "--overwrite", action="store_true", help="replace an earlier run's outputs in OUTPUT"
    )
    chk.add_argument("--threads", type=threads_arg, default=None)
    chk.set_defaults(func=cmd_check)
    losses = "\n".join(f"  {code:<18} {what}" for code, what in LOSSES)
    conv = tsub.add_parser(
        "convert",
        help="convert records to another format, losslessly or with a named loss",
        epilog="losses (a record that would lose one is not converted unless --allow-loss "
        "names it):\n" + losses,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    conv.add_argument("files", nargs="+", help=".jsonl[.gz|.zst] / .parquet files, dirs or globs")
    conv.add_argument("--to", required=True, choices=FORMATS, help="the target format")
    conv.add_argument(
        "--from", dest="from_format", choices=FORMATS, help="the source format (default: detect)"
    )
    conv.add_argument("-o", "--output", required=True, help="output directory")
    conv.add_argument(
        "--allow-loss",
        action="append",
        default=[],
        metavar="CODE[,CODE]",
        help="convert records that lose these parts, dropping them (counted in the report)",
    )
    conv.add_argument(
        "--overwrite", action="store_true", help="replace an earlier run's outputs in OUTPUT"
    )
    conv.add_argument("--threads", type=threads_arg, default=None)
    conv.set_defaults(func=cmd_convert)


def cmd_extract(args: argparse.Namespace) -> int:
    result = extract(
        args.files,
        args.output,
        text_field=args.text_field,
        emit=args.emit,
        threads=args.threads,
        overwrite=args.overwrite,
    )
    r = result.report
    status_if_pipe_closes(EXIT_FAILED if r["failed"] else EXIT_OK)
    print(
        f"{r['documents']:,} documents: {r['documents_with_spec']:,} with a spec, "
        f"{count(r['specs'], 'spec')}, {count(r['calls'], 'call')}"
    )
    for name, s in r["extractors"].items():
        if s["specs"] or s["rejected"] or s["calls"]:
            rejected = sum(s["rejected"].values())
            print(
                f"  {name:<14} {count(s['specs'], 'spec'):>13} in "
                f"{count(s['documents_with_spec'], 'document')}, {rejected:,} rejected, "
                f"{count(s['calls'], 'call')}"
            )
    for why, n in r["documents_unreadable"].items():
        print(f"  unreadable documents ({why}): {n:,}")
    if r["emit"]:
        emitted = count(r["emit"].get("emitted", 0), f"{r['emit']['format']} record")
        skipped = {k: v for k, v in r["emit"].items() if k not in ("format", "emitted")}
        why = ", ".join(f"{k} {v:,}" for k, v in skipped.items() if v)
        print(f"  emitted {emitted}" + (f" (not emitted: {why})" if why else ""))
    _print_wrote(args.output, r)
    return EXIT_FAILED if _print_files(r) else EXIT_OK


def add_extract_parser(sub: Any) -> None:
    """Adds ``extract`` to the ``fastscan`` parser."""
    names = "\n".join(f"  {code:<14} {what}" for code, what in EXTRACTORS)
    ex = sub.add_parser(
        "extract",
        help="extract tool specs and example calls from documents (a filter run's kept/)",
        epilog="extractors:\n" + names,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ex.add_argument("files", nargs="+", help=".jsonl[.gz|.zst] / .parquet files, dirs or globs")
    ex.add_argument("-o", "--output", required=True, help="output directory")
    ex.add_argument("--text-field", default="text", help="the documents' text field (dotted path)")
    ex.add_argument("--emit", choices=FORMATS, help="also write training records in this format")
    ex.add_argument(
        "--overwrite", action="store_true", help="replace an earlier run's outputs in OUTPUT"
    )
    ex.add_argument("--threads", type=threads_arg, default=None)
    ex.set_defaults(func=cmd_extract)
