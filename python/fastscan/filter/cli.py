"""``fastscan-filter``: the command-line front of `filter_shards`."""

from __future__ import annotations

import argparse
import gc
import json
import sys
from collections.abc import Sequence

from fastscan.filter.config import DEFAULT_MIN_SCORE, ConfigError, FilterConfig
from fastscan.filter.progress import Reporter
from fastscan.filter.report import print_report
from fastscan.filter.run import UsageError, filter_shards
from fastscan.terminal import EXIT_OK, EXIT_USAGE, count, run_command, threads_arg

#: The columns a top fraction can rank by, and the stage each belongs to.
RANKABLE = (
    "score (patterns), log_importance ([dsir]), static_similarity ([static]), "
    "similarity ([semantic])"
)

EXAMPLES = """\
examples:
  fastscan-filter shards/ -o out/          # every .jsonl[.gz|.zst] / .parquet below shards/
  fastscan-filter 'cc/**/*.jsonl.zst' -o out/ --threads 16 --min-score 4
  fastscan-filter data.parquet -o out/ --require tool_call,schema
  fastscan-filter shards/ -o out/ --config cascade.toml --top-fraction 0.05 --by similarity
  fastscan-filter climblab/ -o out/ --tokenizer gpt2/tokenizer.json   # token-id Parquet
  fastscan-filter shards/ -o out/ --output-format lmflow              # LMFlow text_only JSON
  fastscan-filter shards/ -o out/ --config cascade.toml --dry-run
  fastscan-filter /nfs/climblab/ -o /nfs/out/ --ray auto     # one Ray task per shard

outputs (OUT/):
  kept/<relative path>            kept records: JSONL lines byte-identical to the input, or
                                  Parquet rows with the input schema
  scores/<relative path>.parquet  one row per record: row, offset, length, score, group counts,
                                  formats, reject_reason, later stages' columns, decision,
                                  dropped_by, drop_reason
  rejects/<relative path>.jsonl   records that could not be read, verbatim, with the reason
  report.json, report.html        counts per shard and in total, group hits, timings
  _scored/, _done/                markers of scored and of finished shards: a rerun resumes
                                  either phase (fastscan select RUN -o NEW: new thresholds,
                                  no rescan)

exit status: 0 ok, 1 some shard failed (see the report), 2 usage error,
130 interrupted (Ctrl-C), 143 terminated (SIGTERM): finished shards stay; rerun the
same command to resume.
"""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="fastscan-filter",
        description="Filter corpus shards down to tool-use and API documents.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("inputs", nargs="+", metavar="IN", help="files, directories or globs")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="output directory")
    p.add_argument("--config", metavar="TOML", help="a cascade.toml with the settings below")
    p.add_argument("--pack", help="built-in pack name or pack file (default tool-use)")
    p.add_argument(
        "--threads",
        type=threads_arg,
        help="threads (default: FASTSCAN_THREADS, "
        "OMP_NUM_THREADS, then the CPUs this process may use); with --ray, the CPUs "
        "(and threads) of each shard task (default 1)",
    )
    p.add_argument(
        "--min-score",
        type=float,
        help=f"keep documents scoring at least this (default {DEFAULT_MIN_SCORE})",
    )
    p.add_argument(
        "--top-fraction",
        type=float,
        metavar="F",
        help="keep the top F of the corpus (the records read; those dropped earlier rank "
        "below), ranked by --by",
    )
    p.add_argument(
        "--by",
        metavar="COLUMN",
        help=f"what --top-fraction ranks by: {RANKABLE} (optional when only the pattern "
        "score can rank)",
    )
    p.add_argument(
        "--require",
        metavar="GROUP[,GROUP]",
        help="keep only documents that hit every one of these groups",
    )
    p.add_argument("--text-field", help="JSONL key / Parquet column of the text (a.b for nested)")
    p.add_argument("--tokens-field", help="Parquet column of token ids (default tokens)")
    p.add_argument(
        "--id-field",
        help="JSONL key / Parquet column of a record id, copied into the scores files as "
        "column id (strings; numbers as their JSON text; null when absent)",
    )
    p.add_argument(
        "--tokenizer",
        metavar="PATH",
        help="tokenizer.json or vocab.json (GPT-2-style byte-level BPE) for token ids",
    )
    p.add_argument(
        "--output-format",
        choices=["auto", "jsonl", "parquet", "lmflow"],
        help="kept records as the input's format (auto, default), jsonl, parquet or "
        "LMFlow text_only JSON",
    )
    p.add_argument(
        "--output-compression",
        choices=["none", "gzip", "zstd"],
        help="compression of kept JSONL (default: as the input)",
    )
    p.add_argument("--lmflow-shard-mb", type=int, help="LMFlow file size (default 256)")
    p.add_argument(
        "--max-record-mb",
        type=int,
        help="longer JSONL lines are rejected as record_too_large (default 64)",
    )
    p.add_argument(
        "--ray",
        nargs="?",
        const="",
        metavar="ADDRESS",
        help="run each shard as a Ray task on the cluster at ADDRESS (auto, host:6379, "
        "ray://host:10001; none: RAY_ADDRESS or a new local Ray); inputs and OUT must be "
        "on storage every node mounts at the same path",
    )
    p.add_argument("--dry-run", action="store_true", help="show the plan and counts, write nothing")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="start over: remove fastscan's outputs in OUT first",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress, no summary")
    p.add_argument("--json", action="store_true", help="print the report as JSON at the end")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if argv is None:  # the command itself: what the imports made lives as long as the
        # process, so out of the collector's sight (its full collections took twice as long)
        gc.freeze()
    return run_command("fastscan-filter", lambda: _run(args))


def _run(args: argparse.Namespace) -> int:
    try:
        cfg = FilterConfig.resolve(
            args.config,
            pack=args.pack,
            min_score=args.min_score,
            require=args.require,
            text_field=args.text_field,
            tokens_field=args.tokens_field,
            id_field=args.id_field,
            tokenizer=args.tokenizer,
            output_format=args.output_format,
            output_compression=args.output_compression,
            lmflow_shard_mb=args.lmflow_shard_mb,
            max_record_mb=args.max_record_mb,
        )
        if args.by is not None and args.top_fraction is None:
            raise UsageError("--by goes with --top-fraction")
        if args.top_fraction is not None:
            cfg = cfg.ranked_by(args.top_fraction, args.by)
        reporter = Reporter(quiet=args.quiet)
        if args.ray is None:
            report = filter_shards(
                args.inputs,
                args.output,
                config=cfg,
                threads=args.threads,
                overwrite=args.overwrite,
                dry_run=args.dry_run,
                reporter=reporter,
            )
        else:
            from fastscan.ray import filter_shards as ray_filter_shards

            report = ray_filter_shards(
                args.inputs,
                args.output,
                config=cfg,
                address=args.ray or None,
                cpus_per_task=args.threads or 1,
                overwrite=args.overwrite,
                dry_run=args.dry_run,
                reporter=reporter,
            )
    except (UsageError, ConfigError, ValueError) as e:
        print(f"fastscan-filter: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    if args.dry_run:
        if args.json:
            print(json.dumps(report, indent=1))
        else:
            _print_plan(report)
        return EXIT_OK
    return print_report(report, as_json=args.json, quiet=args.quiet)


def _print_plan(report: dict[str, object]) -> None:
    totals = report["totals"]
    assert isinstance(totals, dict)
    print(
        f"fastscan-filter (dry run): {count(totals['shards'], 'shard')}, "
        f"{totals['pending']} to do, "
        f"{totals['done']} done, {totals['scored']} scored (to decide), "
        f"{totals['input_bytes']:,} bytes"
    )
    for fmt, slot in totals["by_format"].items():
        print(f"  {fmt}: {count(slot['shards'], 'shard')}, {slot['bytes']:,} bytes")
    shards = report["shards"]
    assert isinstance(shards, list)
    for s in shards:
        fmt = s["format"] or "?"
        print(f"  {s['status']:<10} {fmt:<8} {s['input_bytes']:>14,}  {s['relative']}")


if __name__ == "__main__":
    sys.exit(main())
