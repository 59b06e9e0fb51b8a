"""`fastscan-filter` against another build of it, side by side on the same shards.

    python benches/command_versus.py BASELINE_BIN DATA [--runs 3] [--threads 1,2]
                                     [--formats jsonl,jsonl.zst,parquet] [--config TOML]

BASELINE_BIN is another checkout's ``.venv/bin/fastscan-filter`` (say, the commit before a
change); DATA is a directory with one sub-directory of shards per format (what
`benches/throughput.py --data` writes, e.g. ``bench-data/throughput-500mb``). Each case runs
the two commands alternately, `--runs` times each, in fresh processes, and prints the
median whole-command MB/s per core (wall clock over the threads asked for), MB per CPU second
(user + system time of the process and its threads: what a build spends whatever threads it
uses), the run clock's MB/s per core (the report's), peak RSS and the ratio new / baseline.
MB are megabytes of text read (the report's read bytes).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

NEW_BIN = Path(sys.executable).parent / "fastscan-filter"


def one_run(binary: Path, shards: Path, threads: int, config: str | None) -> dict[str, float]:
    out = Path(tempfile.mkdtemp(prefix="fastscan-versus-"))
    try:
        command = [str(binary), str(shards), "-o", str(out / "o"), "--threads", str(threads)]
        command += ["-q", "--json"] + (["--config", config] if config else [])
        started = time.perf_counter()
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        printed = proc.stdout.read()  # before waiting: the report may not fit a pipe
        proc.stdout.close()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        wall = time.perf_counter() - started
        report = json.loads(printed)
        if proc.returncode != 0:
            raise SystemExit(f"{command} failed")
        mb = report["totals"]["read"]["bytes"] / 1e6
        cpu = usage.ru_utime + usage.ru_stime
        return {
            "whole": mb / wall / threads,
            "cpu": mb / cpu,
            "run": (report["totals"]["mb_per_s"] or 0.0) / threads,
            "rss": usage.ru_maxrss / 1024,
            "kept": report["totals"]["kept"]["docs"],
        }
    finally:
        shutil.rmtree(out, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("baseline", type=Path, help="the other build's fastscan-filter")
    parser.add_argument("data", type=Path, help="a directory of <format>/ shard directories")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--formats", default="jsonl,jsonl.zst,parquet")
    parser.add_argument("--config", help="a cascade.toml both commands run with")
    args = parser.parse_args()
    print(f"baseline {args.baseline}; new {NEW_BIN}; {args.runs} runs each, alternating\n")
    print(
        "| input | threads | baseline MB/s/core | new MB/s/core | new / baseline "
        "| MB per CPU s, baseline | new | run clock, baseline | run clock, new "
        "| peak RSS MiB, baseline | new |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for fmt in args.formats.split(","):
        shards = args.data / fmt
        for threads in (int(t) for t in args.threads.split(",")):
            runs: dict[str, list[dict[str, float]]] = {"old": [], "new": []}
            for _ in range(args.runs):
                runs["old"].append(one_run(args.baseline, shards, threads, args.config))
                runs["new"].append(one_run(NEW_BIN, shards, threads, args.config))
            if {r["kept"] for r in runs["old"]} != {r["kept"] for r in runs["new"]}:
                raise SystemExit(f"{fmt}: the two builds keep different records")

            def med(side: str, key: str, runs: dict[str, list[dict[str, float]]] = runs) -> float:
                return statistics.median(r[key] for r in runs[side])

            print(
                f"| {fmt} | {threads} | {med('old', 'whole'):.1f} | {med('new', 'whole'):.1f} "
                f"| {med('new', 'whole') / med('old', 'whole'):.2f}x "
                f"| {med('old', 'cpu'):.1f} | {med('new', 'cpu'):.1f} | {med('old', 'run'):.1f} "
                f"| {med('new', 'run'):.1f} | {med('old', 'rss'):.0f} | {med('new', 'rss'):.0f} |"
            )


if __name__ == "__main__":
    main()
