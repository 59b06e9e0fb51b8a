"""The `fastscan` command: scan JSONL files with a pack and print per-document scores.

    fastscan scan FILE [FILE ...] [--pack tool-use] [--text-field text] [--json]
    fastscan packs [NAME|PATH]

`fastscan scan` reads `.jsonl`, `.jsonl.gz`, `.jsonl.zst` and `.parquet` files (or directories of
them), scans the text
field of every record, and prints a table and a summary. Lines that are not JSON objects with a
string text field are counted and reported as rejects, never dropped silently.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

from fastscan import __version__
from fastscan.corpus import read_corpus
from fastscan.pack import PatternPack, builtin_packs
from fastscan.scanner import Scanner

RECALL_GROUPS = ("tool_call", "schema", "api_doc")


def _summary_line(row: dict[str, Any], groups: list[str]) -> str:
    return " ".join(f"{g}={row[g]}" for g in groups if row[g])


def cmd_scan(args: argparse.Namespace) -> int:
    scanner = Scanner(args.pack, threads=args.threads)
    corpus = read_corpus(args.files, args.text_field, args.id_field)
    start = time.perf_counter()
    batch = scanner.scan(corpus.texts)
    seconds = time.perf_counter() - start
    rows = batch.to_pylist()
    groups = scanner.group_names
    if args.json:
        for doc_id, row in zip(corpus.ids, rows, strict=False):
            print(json.dumps({"id": doc_id, **row}))
        return 0
    pack = scanner.pack
    print(
        f"fastscan {__version__} · pack {pack.name} ({len(pack.groups)} groups, "
        f"{len(pack.formats)} formats, {len(pack.patterns)} patterns) · "
        f"{scanner.threads} threads ({scanner.thread_source})\n"
    )
    width = max([len(i) for i in corpus.ids] + [2])
    print(f"{'id':<{width}}  {'score':>6}  {'groups hit':<44} formats")
    order = sorted(range(len(rows)), key=lambda i: -rows[i]["score"])
    for i in order:
        row = rows[i]
        print(
            f"{corpus.ids[i]:<{width}}  {row['score']:>6.2f}  "
            f"{_summary_line(row, groups):<44} {', '.join(row['formats'])}"
        )
    nbytes = sum(len(t.encode()) for t in corpus.texts)
    flagged = sum(any(row.get(g, 0) for g in RECALL_GROUPS) for row in rows)
    formats = Counter(f for row in rows for f in row["formats"])
    rate = nbytes / seconds / 1e6 if seconds > 0 else float("inf")
    print(
        f"\n{corpus.lines} lines read: {len(rows)} documents scanned, "
        f"{len(corpus.rejects)} rejected; {nbytes / 1e3:.1f} kB in {seconds * 1e3:.2f} ms "
        f"({rate:.0f} MB/s)"
    )
    print(f"{flagged} documents hit {'/'.join(RECALL_GROUPS)}")
    if formats:
        print("tool-call formats: " + ", ".join(f"{k} {v}" for k, v in formats.most_common()))
    for path, lineno, reason in corpus.rejects:
        print(f"rejected {path}:{lineno}: {reason}", file=sys.stderr)
    return 0


def cmd_packs(args: argparse.Namespace) -> int:
    if not args.pack:
        for name in builtin_packs():
            print(f"{name}: {PatternPack.builtin(name).description}")
        return 0
    pack = PatternPack.load(args.pack)
    print(repr(pack))
    for g in pack.groups:
        n = sum(p.group == g.name for p in pack.patterns)
        print(
            f"  {g.name:<10} weight {g.weight:>4}  min_hits {g.min_hits}  {n:>3} patterns  "
            f"{g.description}"
        )
        for f in (f for f in pack.formats if f.group == g.name):
            print(f"      format {f.name}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fastscan",
        description="Find tool-use and API documents in text corpora.",
        epilog="examples:\n  fastscan scan examples/samples.jsonl\n"
        "  fastscan scan shard.jsonl.gz --pack my-pack.toml --json > scores.jsonl\n"
        "  fastscan packs tool-use",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"fastscan {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    scan = sub.add_parser("scan", help="scan JSONL files and print scores")
    scan.add_argument("files", nargs="+", help=".jsonl[.gz|.zst] / .parquet files or dirs")
    scan.add_argument("--pack", default="tool-use", help="built-in pack name or pack file")
    scan.add_argument("--text-field", default="text")
    scan.add_argument("--id-field", default="id")
    scan.add_argument("--threads", type=int, default=None)
    scan.add_argument("--json", action="store_true", help="one JSON object per document")
    scan.set_defaults(func=cmd_scan)
    packs = sub.add_parser("packs", help="list built-in packs or describe one")
    packs.add_argument("pack", nargs="?")
    packs.set_defaults(func=cmd_packs)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ValueError as e:  # PackError and bad settings: a usage problem, not a crash
        print(f"fastscan: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
