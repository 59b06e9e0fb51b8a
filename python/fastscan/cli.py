"""The `fastscan` command: scan, inspect packs, fit DSIR models, evaluate, discover patterns.

    fastscan scan FILE [FILE ...] [--pack tool-use] [--text-field text] [--json]
    fastscan packs [NAME|PATH]
    fastscan fit-ngrams --target GOLD --raw SAMPLE -o MODEL [--buckets 10000]
    fastscan eval --positives P --negatives N [--hard-negatives H] [--config C] [--json OUT]
                  [--variants]
    fastscan discover --gold GOLD --corpus SAMPLE [--top 50]
    fastscan select RUN_DIR -o NEW_OUT [--min-score S] [--top-fraction F --by COLUMN]

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
from pathlib import Path
from typing import Any

from fastscan import __version__
from fastscan.cascade import load_gold
from fastscan.corpus import Corpus, read_corpus
from fastscan.discover import discover
from fastscan.evaluate import Labeled, evaluate, table_text
from fastscan.filter.config import FilterConfig
from fastscan.ngrams import DEFAULT_BUCKETS, DEFAULT_N, NgramModel
from fastscan.pack import PatternPack, builtin_packs
from fastscan.pipeline import Pipeline
from fastscan.scanner import Scanner
from fastscan.terminal import EXIT_USAGE, run_command, threads_arg
from fastscan.toolcalls import cli as toolcalls_cli
from fastscan.variants import invariance_table
from fastscan.variants import table_text as variants_table_text


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
        _report_rejects(corpus)
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
    # Support groups never score alone, so a positive score means evidence of tool use.
    flagged = sum(row["score"] > 0 for row in rows)
    formats = Counter(f for row in rows for f in row["formats"])
    rate = nbytes / seconds / 1e6 if seconds > 0 else float("inf")
    print(
        f"\n{corpus.lines} lines read: {len(rows)} documents scanned, "
        f"{len(corpus.rejects)} rejected; {nbytes / 1e3:.1f} kB in {seconds * 1e3:.2f} ms "
        f"({rate:.0f} MB/s)"
    )
    evidence = [g.name for g in pack.groups if not g.support]
    print(f"{flagged} documents with evidence ({'/'.join(evidence)})")
    if formats:
        print("tool-call formats: " + ", ".join(f"{k} {v}" for k, v in formats.most_common()))
    _report_rejects(corpus)
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
        kind = "support" if g.support else g.view
        print(
            f"  {g.name:<10} weight {g.weight:>4}  min_hits {g.min_hits}  {n:>3} patterns  "
            f"{kind:<7}  {g.description}"
        )
        for f in (f for f in pack.formats if f.group == g.name):
            print(f"      format {f.name}")
    return 0


def cmd_fit_ngrams(args: argparse.Namespace) -> int:
    # Every --target is a gold file, directory or built-in name (never a text itself).
    target = [text for source in args.target for text in load_gold(source)]
    raw = read_corpus(args.raw, args.text_field)
    _report_rejects(raw)
    started = time.perf_counter()
    model = NgramModel.fit(
        target,
        raw.texts,
        buckets=args.buckets,
        n=args.ngrams,
        smoothing=args.smoothing,
        smoothing_value=args.smoothing_value,
        threads=args.threads,
    )
    model.info.update(target=list(args.target), raw=list(args.raw))
    model.save(args.output)
    seconds = time.perf_counter() - started
    mb = (sum(len(t.encode()) for t in target) + raw.nbytes) / 1e6
    print(
        f"fit {args.output}: {len(target):,} target and {len(raw):,} raw documents, "
        f"{args.buckets:,} buckets, n={args.ngrams}, {args.smoothing} smoothing "
        f"({args.smoothing_value:g}); {mb:.1f} MB in {seconds:.2f} s"
    )
    return 0


def _labeled(args: argparse.Namespace) -> Labeled:
    texts: list[str] = []
    labels: list[str] = []
    kinds: list[str | None] = []
    for label, paths in (
        ("positive", args.positives),
        ("negative", args.negatives),
        ("hard_negative", args.hard_negatives or []),
    ):
        if not paths:
            continue
        corpus = read_corpus(paths, args.text_field)
        _report_rejects(corpus)
        texts += corpus.texts
        labels += [label] * len(corpus)
        kinds += corpus.kinds
    return Labeled(texts, labels, kinds)


def cmd_eval(args: argparse.Namespace) -> int:
    cascade = Pipeline(FilterConfig.resolve(args.config), threads=args.threads)
    data = _labeled(args)
    report = evaluate(cascade, data)
    report["config"] = args.config
    report["stage_settings"] = cascade.describe()
    print(table_text(report))
    if args.variants:
        positives = [t for t, lab in zip(data.texts, data.labels, strict=True) if lab == "positive"]
        rows = invariance_table(positives, cascade.keeps)
        report["variants"] = rows
        print("\nSerialization invariance: positives holding JSON structures, rewritten\n")
        print(variants_table_text(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return 0


def cmd_select(args: argparse.Namespace) -> int:
    from fastscan.filter.progress import Reporter
    from fastscan.filter.report import print_report
    from fastscan.filter.reselect import select_run
    from fastscan.filter.run import UsageError

    settings = {
        k: v for k, v in (("min_score", args.min_score), ("require", args.require)) if v is not None
    }
    try:
        report = select_run(
            args.run_dir,
            args.output,
            config=args.config,
            top_fraction=args.top_fraction,
            by=args.by,
            threads=args.threads,
            overwrite=args.overwrite,
            reporter=Reporter(quiet=args.quiet, prog="fastscan select"),
            **settings,
        )
    except UsageError as e:
        print(f"fastscan select: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    return print_report(report, as_json=args.json, quiet=args.quiet)


def cmd_discover(args: argparse.Namespace) -> int:
    gold = load_gold(args.gold)
    corpus = read_corpus(args.corpus, args.text_field)
    _report_rejects(corpus)
    found = discover(
        gold,
        corpus.texts,
        min_n=args.min_n,
        max_n=args.max_n,
        top=args.top,
        min_gold_docs=args.min_gold_docs,
        threads=args.threads,
    )
    if args.json:
        for c in found:
            print(json.dumps(c.__dict__, ensure_ascii=False))
        return 0
    print(f"gold {len(gold):,} docs, corpus {len(corpus):,} docs; n-grams by log ratio\n")
    print(f"{'log ratio':>9}  {'gold docs':>9}  {'corpus docs':>11}  n-gram")
    for c in found:
        print(f"{c.log_ratio:>9.2f}  {c.gold_docs:>9,}  {c.corpus_docs:>11,}  {c.ngram}")
    return 0


def _report_rejects(corpus: Corpus) -> None:
    for path, lineno, reason in corpus.rejects[:10]:
        print(f"rejected {path}:{lineno}: {reason}", file=sys.stderr)
    if len(corpus.rejects) > 10:
        print(f"... {len(corpus.rejects) - 10} more rejected lines", file=sys.stderr)


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
    scan.add_argument("--threads", type=threads_arg, default=None)
    scan.add_argument("--json", action="store_true", help="one JSON object per document")
    scan.set_defaults(func=cmd_scan)
    packs = sub.add_parser("packs", help="list built-in packs or describe one")
    packs.add_argument("pack", nargs="?")
    packs.set_defaults(func=cmd_packs)

    fit = sub.add_parser("fit-ngrams", help="fit a DSIR hashed n-gram importance model")
    fit.add_argument("--target", nargs="+", required=True, help="gold set (or 'tool-use')")
    fit.add_argument("--raw", nargs="+", required=True, help="a sample of the raw corpus")
    fit.add_argument("-o", "--output", required=True, help="model file (.parquet)")
    fit.add_argument("--buckets", type=int, default=DEFAULT_BUCKETS)
    fit.add_argument("--ngrams", type=int, default=DEFAULT_N, help="largest n (default 2)")
    fit.add_argument("--smoothing", choices=["epsilon", "additive"], default="epsilon")
    fit.add_argument("--smoothing-value", type=float, default=1e-8)
    fit.add_argument("--text-field", default="text")
    fit.add_argument("--threads", type=threads_arg, default=None)
    fit.set_defaults(func=cmd_fit_ngrams)

    ev = sub.add_parser("eval", help="recall / FPR / PR-AUC of a cascade on labeled JSONL")
    ev.add_argument("--positives", nargs="+", required=True)
    ev.add_argument("--negatives", nargs="+", required=True)
    ev.add_argument("--hard-negatives", nargs="+")
    ev.add_argument("--config", help="a cascade.toml (default: the pattern stage alone)")
    ev.add_argument("--json", metavar="OUT", help="also write the full evaluation here")
    ev.add_argument(
        "--variants",
        action="store_true",
        help="also rewrite each positive's JSON structures (compact, indented, Python literal, "
        "escaped 1-2 levels, YAML, renamed fields) and compare keep rates",
    )
    ev.add_argument("--text-field", default="text")
    ev.add_argument("--threads", type=threads_arg, default=None)
    ev.set_defaults(func=cmd_eval)

    disc = sub.add_parser("discover", help="n-grams over-represented in a gold set")
    disc.add_argument("--gold", required=True, help="gold file / directory (or 'tool-use')")
    disc.add_argument("--corpus", nargs="+", required=True)
    disc.add_argument("--top", type=int, default=50)
    disc.add_argument("--min-n", type=int, default=1)
    disc.add_argument("--max-n", type=int, default=3)
    disc.add_argument("--min-gold-docs", type=int, default=3)
    disc.add_argument("--text-field", default="text")
    disc.add_argument("--threads", type=threads_arg, default=None)
    disc.add_argument("--json", action="store_true", help="one JSON object per n-gram")
    disc.set_defaults(func=cmd_discover)
    sel = sub.add_parser(
        "select",
        help="decide a finished fastscan-filter run again with new thresholds (no rescan)",
        description="Reads the scores of RUN_DIR and writes NEW_OUT (kept files, scores, "
        "report) as fastscan-filter would with the new settings, without scanning or "
        "embedding again. Only thresholds may change.",
    )
    sel.add_argument("run_dir", metavar="RUN_DIR", help="a fastscan-filter output directory")
    sel.add_argument("-o", "--output", required=True, metavar="NEW_OUT")
    sel.add_argument("--config", metavar="TOML", help="the new settings (default: the run's)")
    sel.add_argument("--min-score", type=float, help="the keep rule's new min_score")
    sel.add_argument("--require", metavar="GROUP[,GROUP]", help="the keep rule's groups")
    sel.add_argument(
        "--top-fraction",
        type=float,
        metavar="F",
        help="keep the top F of the run's records read (those dropped earlier rank below)",
    )
    sel.add_argument(
        "--by",
        metavar="COLUMN",
        help="what --top-fraction ranks by: score (patterns), log_importance, "
        "static_similarity, similarity (optional when only the pattern score can rank)",
    )
    sel.add_argument("--threads", type=threads_arg, default=None)
    sel.add_argument("--overwrite", action="store_true", help="replace NEW_OUT's outputs")
    sel.add_argument("-q", "--quiet", action="store_true")
    sel.add_argument("--json", action="store_true", help="print the report as JSON")
    sel.set_defaults(func=cmd_select)
    toolcalls_cli.add_parser(sub)
    toolcalls_cli.add_extract_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def run() -> int:
        try:
            return int(args.func(args))
        except ValueError as e:  # PackError and bad settings: a usage problem, not a crash
            print(f"fastscan: {e}", file=sys.stderr)
            return EXIT_USAGE

    return run_command("fastscan", run)


if __name__ == "__main__":
    sys.exit(main())
