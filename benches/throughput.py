"""Throughput of `Scanner.scan` beside Python `re` and `ahocorasick_rs`, in one run.

    python benches/throughput.py CORPUS [--mb 200] [--threads 1,2] [--pack tool-use]
                                 [--e2e-mb 500] [--e2e-shards 2] [--e2e-formats jsonl.zst,parquet]

CORPUS is a labeled directory (e.g. ../shared/data/labeled) or a JSONL(.gz) file. Its texts are
repeated to --mb megabytes and held as one Arrow large_string array (raw UTF-8 bytes, the layout
a Parquet reader hands over). Each fastscan row is the best of --repeat runs; the baselines run
once over a slice of the same texts (they are far slower) and are scaled to MB/s. Prints a
Markdown table: MB/s, MB/s per core, and each row's speed relative to fastscan on one thread.

With --e2e-mb, it also writes the same texts as --e2e-shards JSONL.zst and Parquet shards
({"id", "text"} records) under bench-data/ and times the `fastscan-filter` command on them,
each run in a fresh process: MB/s of decompressed text per core, CPU seconds, and the
process's peak RSS (from wait4).
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import fastscan
from corpus import as_arrow, nbytes, read_texts, repeat_to


def best_of(repeat: int, fn: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def re_baseline(pack: fastscan.PatternPack, texts: list[str]) -> None:
    """Python `re`, one compiled pattern per pack pattern, one pass each over every text."""
    compiled = []
    for p in pack.patterns:
        source = re.escape(p.text) if p.kind == "literal" else p.text
        compiled.append(re.compile(source, 0 if p.case_sensitive else re.IGNORECASE))
    for text in texts:
        for rx in compiled:
            sum(1 for _ in rx.finditer(text))


def ahocorasick_baseline(pack: fastscan.PatternPack, texts: list[str]) -> Callable[[], None]:
    """ahocorasick_rs over the same literals (overlapping matches), one call per text."""
    import ahocorasick_rs

    lits = sorted({p.text for p in pack.patterns if p.kind == "literal"})
    ac = ahocorasick_rs.AhoCorasick(lits)

    def run() -> None:
        for text in texts:
            ac.find_matches_as_indexes(text, overlapping=True)

    return run


def write_shards(texts: list[str], root: Path, fmt: str, shards: int) -> Path:
    """Writes `texts` as `shards` files of format `fmt` (once; reused when present)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    target = root / fmt
    done = target / ".complete"
    if done.exists():
        return target
    target.mkdir(parents=True, exist_ok=True)
    per = -(-len(texts) // shards)
    for i in range(shards):
        part = texts[i * per : (i + 1) * per]
        path = target / f"part-{i:03d}.{fmt}"
        if fmt == "parquet":
            table = pa.table({"id": [f"d{i}-{j}" for j in range(len(part))], "text": part})
            pq.write_table(table, path, compression="zstd", row_group_size=20_000)
        else:
            data = "".join(
                json.dumps({"id": f"d{i}-{j}", "text": t}, ensure_ascii=False) + "\n"
                for j, t in enumerate(part)
            ).encode()
            with pa.CompressedOutputStream(str(path), "zstd") as f:
                f.write(data)
    done.touch()
    return target


# Runs a command and reports its peak RSS and CPU time on stderr. The launcher is exec'ed fresh,
# so its child's peak RSS is the command's own, not inherited from this (large) process.
LAUNCHER = (
    "import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); "
    "u = resource.getrusage(resource.RUSAGE_CHILDREN); "
    "print('RUSAGE', u.ru_maxrss, u.ru_utime + u.ru_stime, file=sys.stderr); sys.exit(r.returncode)"
)


def run_filter(
    shards: Path, out: Path, threads: int
) -> tuple[dict[str, object], float, float, int]:
    """Runs fastscan-filter in a fresh process: (report, wall s, CPU s, peak RSS bytes)."""
    cmd = [sys.executable, "-m", "fastscan.filter.cli", str(shards), "-o", str(out)]
    cmd += ["--threads", str(threads), "--overwrite", "--json", "-q"]
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", LAUNCHER, *cmd], capture_output=True, text=True)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"fastscan-filter failed ({proc.returncode}): {proc.stderr}")
    _, maxrss, cpu = proc.stderr.strip().splitlines()[-1].split()
    return json.loads(proc.stdout), wall, float(cpu), int(maxrss) * 1024


def end_to_end(texts: list[str], a: argparse.Namespace) -> None:
    e2e_texts = repeat_to(texts, a.e2e_mb)
    root = Path(a.data) / f"e2e-{a.e2e_mb:g}mb-{a.e2e_shards}"
    print(
        f"\nend to end: fastscan-filter on {nbytes(e2e_texts) / 1e6:.0f} MB of text in "
        f"{a.e2e_shards} shards per format ({root})\n"
    )
    print(
        "| input | threads | text MB | on disk MB | s | MB/s | MB/s per core | CPU s "
        "| peak RSS MB | vs 1 thread |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for fmt in a.e2e_formats.split(","):
        shards = write_shards(e2e_texts, root, fmt, a.e2e_shards)
        disk = sum(f.stat().st_size for f in shards.glob(f"*.{fmt}"))
        first = None
        for threads in (int(t) for t in a.threads.split(",")):
            report, wall, cpu, rss = run_filter(shards, root / f"out-{fmt}", threads)
            totals = report["totals"]
            assert isinstance(totals, dict)
            mb = totals["read"]["bytes"] / 1e6
            rate = mb / wall
            first = first or rate
            print(
                f"| {fmt} | {threads} | {mb:,.0f} | {disk / 1e6:,.0f} | {wall:.2f} | {rate:,.0f} "
                f"| {rate / threads:,.0f} | {cpu:.2f} | {rss / 2**20:,.0f} | {rate / first:.2f}x |"
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("corpus")
    ap.add_argument("--mb", type=float, default=200.0)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--pack", default="tool-use")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--re-mb", type=float, default=2.0, help="slice for the `re` baseline")
    ap.add_argument("--ac-mb", type=float, default=50.0, help="slice for ahocorasick_rs")
    ap.add_argument("--e2e-mb", type=float, default=0.0, help="end-to-end corpus size (0: skip)")
    ap.add_argument("--e2e-shards", type=int, default=2)
    ap.add_argument("--e2e-formats", default="jsonl.zst,parquet")
    ap.add_argument("--e2e-only", action="store_true", help="skip the scanner table")
    ap.add_argument("--data", default="bench-data", help="where e2e corpora are written")
    a = ap.parse_args()

    texts = repeat_to(read_texts(a.corpus), a.mb)
    if a.e2e_only:
        end_to_end(texts, a)
        return
    size = nbytes(texts)
    array = as_arrow(texts)
    pack = fastscan.PatternPack.load(a.pack)
    n_lit = sum(p.kind == "literal" for p in pack.patterns)
    print(
        f"corpus: {a.corpus}: {len(texts)} documents, {size / 1e6:.1f} MB; pack {pack.name}: "
        f"{n_lit} literals, {len(pack.patterns) - n_lit} regexes; "
        f"{platform.processor() or platform.machine()}, fastscan {fastscan.__version__}\n"
    )
    rows: list[tuple[str, float, float, int]] = []  # name, MB, seconds, cores
    for threads in (int(t) for t in a.threads.split(",")):
        scanner = fastscan.Scanner(pack, threads=threads)
        seconds = best_of(a.repeat, lambda s=scanner: s.scan(array))  # type: ignore[misc]
        rows.append((f"fastscan Scanner.scan, Arrow, {threads} thread(s)", size, seconds, threads))
    scanner = fastscan.Scanner(pack, threads=1)
    seconds = best_of(1, lambda: scanner.scan(texts))
    rows.append(("fastscan Scanner.scan, list[str], 1 thread", size, seconds, 1))

    ac_texts = repeat_to(texts, min(a.ac_mb, a.mb))
    seconds = best_of(1, ahocorasick_baseline(pack, ac_texts))
    rows.append((f"ahocorasick_rs, {n_lit} literals, overlapping", nbytes(ac_texts), seconds, 1))
    re_texts = repeat_to(texts, min(a.re_mb, a.mb))
    seconds = best_of(1, lambda: re_baseline(pack, re_texts))
    rows.append(
        (f"Python re, one pass per pattern ({len(pack.patterns)})", nbytes(re_texts), seconds, 1)
    )

    base = rows[0][1] / rows[0][2]
    print("| method | MB | s | MB/s | MB/s per core | vs fastscan 1 thread |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, mb, seconds, cores in rows:
        rate = mb / seconds / 1e6
        print(
            f"| {name} | {mb / 1e6:.1f} | {seconds:.3f} | {rate:,.0f} | {rate / cores:,.0f} "
            f"| {rate * 1e6 / base:.3g}x |"
        )
    if a.e2e_mb:
        end_to_end(texts, a)


if __name__ == "__main__":
    main()
