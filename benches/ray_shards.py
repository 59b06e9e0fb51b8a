"""Shard-level Ray mode beside the plain CLI, on the same shards, in one run.

    python benches/ray_shards.py CORPUS [--mb 400] [--shards 8] [--cpus 2] [--format jsonl.zst]

Writes CORPUS's texts (repeated to --mb) as --shards files under bench-data/, then runs, each
in a fresh process, ``fastscan-filter --threads CPUS`` and ``fastscan-filter --ray`` (a local
Ray started by the command with CPUS CPUs: one task per shard, one thread per task). Prints
MB/s of decompressed text per core for the whole command (Ray's start-up included) and for the
run itself (the report's own clock: from the first shard submitted to the last one done), and
checks that both runs kept the same bytes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from corpus import nbytes, read_texts, repeat_to
from throughput import write_shards


def run(cmd: list[str], env: dict[str, str]) -> tuple[dict[str, object], float]:
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr}")
    return json.loads(proc.stdout), wall


def kept_bytes(out: Path) -> dict[str, bytes]:
    return {
        f.relative_to(out).as_posix(): f.read_bytes()
        for f in sorted((out / "kept").rglob("*"))
        if f.is_file()
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corpus")
    ap.add_argument("--mb", type=float, default=400.0)
    ap.add_argument("--shards", type=int, default=8)
    ap.add_argument("--cpus", type=int, default=2)
    ap.add_argument("--format", default="jsonl.zst", choices=["jsonl.zst", "parquet"])
    ap.add_argument("--data", default="bench-data")
    a = ap.parse_args()
    texts = repeat_to(read_texts(a.corpus), a.mb)
    root = Path(a.data) / f"ray-{a.mb:g}mb-{a.shards}"
    shards = write_shards(texts, root, a.format, a.shards)
    # A local Ray with this many CPUs, bound to loopback only (Ray's single-machine mode).
    env = {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
    base = [sys.executable, "-m", "fastscan.filter.cli", str(shards), "--overwrite", "--json"]
    base += ["-q"]
    print(
        f"{nbytes(texts) / 1e6:,.0f} MB of text in {a.shards} {a.format} shards, "
        f"{a.cpus} CPUs ({os.cpu_count()} on this machine)\n"
    )
    print("| mode | command s | MB/s per core (command) | run s | MB/s per core (run) |")
    print("|---|---:|---:|---:|---:|")
    rows = [
        ("fastscan-filter", ["--threads", str(a.cpus)], root / "out-local"),
        ("fastscan-filter --ray", ["--ray"], root / "out-ray"),
    ]
    if a.cpus != os.cpu_count():
        raise SystemExit("--ray starts a local Ray with every CPU: pass --cpus os.cpu_count()")
    first = None
    for name, extra, out in rows:
        report, wall = run([*base, "-o", str(out), *extra], env)
        totals = report["totals"]
        assert isinstance(totals, dict)
        mb = totals["read"]["bytes"] / 1e6
        seconds = totals["seconds"]
        print(
            f"| {name} | {wall:.2f} | {mb / wall / a.cpus:,.0f} | {seconds:.2f} "
            f"| {mb / seconds / a.cpus:,.0f} |"
        )
        kept = kept_bytes(out)
        first = first or kept
        if kept != first:
            raise SystemExit(f"{name} kept other bytes than the local run")
    print("\nkept files identical: yes")


if __name__ == "__main__":
    main()
