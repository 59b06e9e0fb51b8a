"""One table of fastscan's speed beside the machine's limits and the peers, from one run.

    python benches/throughput.py CORPUS [--mb 500] [--threads 1,2] [--sizes 1,10,100,1000]
                                 [--formats jsonl,jsonl.zst,parquet] [--data bench-data]
                                 [--no-e2e] [--no-scaling]

CORPUS is a labeled directory (e.g. ../shared/data/labeled) or a JSONL(.gz) file. Its texts are
repeated to --mb megabytes. In-process rows read them as one Arrow large_string array (the
layout a Parquet reader hands over); end-to-end rows run the `fastscan-filter` command in a
fresh process on the same texts written as 2 shards of each format ({"id", "text"} records,
under --data, reused when present). MB are megabytes of text (UTF-8, decompressed). Every
row gives MB/s per core and its speed relative to fastscan stage 1 on one thread.

Slower peers run on a slice of the same texts (the first N MB, noted in the row) and are
scaled to MB/s. A peer that is not installed is listed as skipped. The scaling table then
times stage 1 and the end-to-end command at --sizes, with the command's start-up measured on
its own (a one-record shard) so the per-byte cost and the fixed cost are seen apart.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import baselines
import fastscan
from baselines import PeerMissingError
from corpus import as_arrow, best_of, nbytes, read_texts, repeat_to
from fastscan.ngrams import NgramModel


@dataclass
class Row:
    part: str
    name: str
    threads: int
    nbytes: int
    seconds: float
    note: str = ""

    @property
    def per_core(self) -> float:
        return self.nbytes / self.seconds / 1e6 / self.threads


class Table:
    def __init__(self) -> None:
        self.rows: list[Row | tuple[str, str, str]] = []

    def add(self, row: Row) -> None:
        self.rows.append(row)
        print(
            f"  {row.name} ({row.threads} thread(s)): {row.per_core:,.0f} MB/s per core", flush=True
        )

    def skip(self, part: str, name: str, why: str) -> None:
        self.rows.append((part, name, why))
        print(f"  {name}: skipped ({why})", flush=True)

    def print(self, reference: float) -> None:
        print("\n| part | method | threads | MB | s | MB/s | MB/s per core | vs stage 1 | notes |")
        print("|---|---|---:|---:|---:|---:|---:|---:|---|")
        for r in self.rows:
            if isinstance(r, tuple):
                print(f"| {r[0]} | {r[1]} | | | | | | | skipped: {r[2]} |")
                continue
            rate = r.nbytes / r.seconds / 1e6
            print(
                f"| {r.part} | {r.name} | {r.threads} | {r.nbytes / 1e6:,.1f} | {r.seconds:.3f} "
                f"| {rate:,.1f} | {r.per_core:,.1f} | {r.per_core / reference:.3g}x | {r.note} |"
            )


# -- end to end ---------------------------------------------------------------------------------


def write_shards(texts: list[str], root: Path, fmt: str, shards: int = 2) -> Path:
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
            continue
        data = "".join(
            json.dumps({"id": f"d{i}-{j}", "text": t}, ensure_ascii=False) + "\n"
            for j, t in enumerate(part)
        ).encode()
        if fmt == "jsonl":
            path.write_bytes(data)
        else:
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


@dataclass
class FilterRun:
    read_bytes: int
    wall: float  # the whole command, start-up included
    run: float  # the report's clock: first shard started to last one done
    cpu: float
    rss: int


def run_filter(shards: Path, out: Path, threads: int, *extra: str) -> FilterRun:
    """Runs fastscan-filter in a fresh process (`extra`: more flags)."""
    cmd = [sys.executable, "-m", "fastscan.filter.cli", str(shards), "-o", str(out)]
    cmd += ["--threads", str(threads), "--overwrite", "--json", "-q", *extra]
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", LAUNCHER, *cmd], capture_output=True, text=True)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"fastscan-filter failed ({proc.returncode}): {proc.stderr}")
    _, maxrss, cpu = proc.stderr.strip().splitlines()[-1].split()
    totals = json.loads(proc.stdout)["totals"]
    return FilterRun(
        totals["read"]["bytes"], wall, totals["seconds"], float(cpu), int(maxrss) * 1024
    )


def start_up(root: Path) -> float:
    """Seconds of a fastscan-filter command on a one-record shard: its fixed cost."""
    tiny = root / "one-record"
    tiny.mkdir(parents=True, exist_ok=True)
    (tiny / "part-000.jsonl").write_text(json.dumps({"text": "curl -X POST /v1/x"}) + "\n")
    return min(run_filter(tiny, root / "out-one-record", 1).wall for _ in range(3))


# -- the table ----------------------------------------------------------------------------------


def machine(table: Table, jsonl: Path) -> None:
    size, work = baselines.memory_read()
    table.add(Row("machine", "memory read (numpy sum of 1 GiB)", 1, size, best_of(3, work)))
    size, work = baselines.page_cache_read(jsonl)
    note = f"{jsonl.name}, 8 MiB reads"
    table.add(Row("machine", "page-cache read of the JSONL shard", 1, size, best_of(3, work), note))


def fastscan_rows(table: Table, texts: list[str], a: argparse.Namespace) -> None:
    pack = fastscan.PatternPack.builtin(a.pack)
    array, size = as_arrow(texts), nbytes(texts)
    base = texts[: min(len(texts), 20_000)]
    fitted = NgramModel.fit(base[: len(base) // 2], base[len(base) // 2 :])
    stats_texts = repeat_to(texts, min(a.stats_mb, a.mb))
    stats_array = as_arrow(stats_texts)
    for threads in a.thread_counts:
        scanner = fastscan.Scanner(pack, threads=threads)
        model = NgramModel(fitted.target, fitted.raw, threads=threads)
        seconds = best_of(a.repeat, lambda s=scanner: s.scan(array))  # type: ignore[misc]
        table.add(Row("fastscan", "stage 1: patterns", threads, size, seconds))
        seconds = best_of(
            a.repeat,
            lambda s=scanner, m=model: (s.scan(array), m.importance(array)),  # type: ignore[misc]
        )
        note = "DSIR scored on every document (the cascade scores only stage-1 survivors)"
        table.add(
            Row("fastscan", "stages 1+2: patterns + n-gram DSIR", threads, size, seconds, note)
        )
        seconds = best_of(1, lambda s=scanner: s.stats(stats_array))  # type: ignore[misc]
        note = f"first {nbytes(stats_texts) / 1e6:.0f} MB"
        table.add(
            Row(
                "fastscan",
                "statistics: 30 Gopher features",
                threads,
                nbytes(stats_texts),
                seconds,
                note,
            )
        )


def end_to_end(table: Table, texts: list[str], a: argparse.Namespace) -> Path:
    """fastscan-filter rows; returns the JSONL shard directory (for the page-cache row)."""
    root = Path(a.data) / f"throughput-{a.mb:g}mb"
    jsonl = write_shards(texts, root, "jsonl")
    for fmt in a.formats.split(","):
        shards = write_shards(texts, root, fmt)
        disk = sum(f.stat().st_size for f in shards.glob(f"*.{fmt}"))
        for threads in a.thread_counts:
            r = run_filter(shards, root / f"out-{fmt}", threads)
            note = (
                f"run clock {r.run:.2f} s ({r.read_bytes / r.run / 1e6 / threads:,.0f} MB/s/core); "
                f"peak RSS {r.rss / 2**20:,.0f} MiB; {disk / 1e6:,.0f} MB on disk"
            )
            name = f"fastscan-filter, {fmt} (whole command)"
            table.add(Row("end to end", name, threads, r.read_bytes, r.wall, note))
        # The same command with a pack that can match nothing: what reading, parsing, the
        # scores and the report cost with (almost) no scan and no kept records to write.
        r = run_filter(shards, root / f"out-{fmt}-floor", 1, "--pack", str(null_pack(root)))
        note = f"run clock {r.run:.2f} s ({r.read_bytes / r.run / 1e6:,.0f} MB/s); {FLOOR_NOTE}"
        name = f"fastscan-filter, {fmt}, a pack that matches nothing"
        table.add(Row("end to end", name, 1, r.read_bytes, r.wall, note))
    return jsonl


FLOOR_NOTE = "the command's floor: one literal that never occurs, nothing kept"


def null_pack(root: Path) -> Path:
    """A pack of one literal (two control bytes) that no corpus text holds."""
    path = root / "null-pack.toml"
    path.write_text(
        '[pack]\nname = "null"\nversion = "1"\ndescription = "Matches nothing."\n\n'
        '[[group]]\nname = "none"\ndescription = "Never hits."\nweight = 1.0\n'
        'literals = ["\\u0001\\u0002"]\n'
    )
    return path


def peers(table: Table, texts: list[str], jsonl: Path | None, a: argparse.Namespace) -> None:
    pack = fastscan.PatternPack.builtin(a.pack)
    n_lit = sum(p.kind == "literal" for p in pack.patterns)
    folds = any(p.view == "folded" for p in pack.patterns)

    def peer(name: str, mb: float, make: Callable[[list[str]], object], note: str = "") -> None:
        part = repeat_to(texts, min(mb, a.mb))
        try:
            made = make(part)
        except PeerMissingError as e:
            table.skip("peer", name, f"{e} is not installed")
            return
        work, extra = made if isinstance(made, tuple) else (made, "")
        seconds = best_of(1, work)
        folded = "folded view given (untimed)" if folds and not name.startswith("datatrove") else ""
        note = "; ".join(
            x for x in (f"first {nbytes(part) / 1e6:.1f} MB", note, extra, folded) if x
        )
        table.add(Row("peer", name, 1, nbytes(part), seconds, note))

    peer(
        f"Python re, one pass per pattern ({len(pack.patterns)})",
        a.re_mb,
        lambda t: baselines.re_baseline(pack, t),
    )
    peer(
        f"pyahocorasick, {n_lit} literals",
        a.peer_mb,
        lambda t: baselines.pyahocorasick_baseline(pack, t),
        "overlapping, counted",
    )
    peer(
        f"ahocorasick_rs, {n_lit} literals",
        a.peer_mb,
        lambda t: baselines.ahocorasick_rs_baseline(pack, t),
        "overlapping",
    )

    def hyperscan(t: list[str]) -> tuple[Callable[[], object], str]:
        work, compiled = baselines.hyperscan_baseline(pack, t)
        return work, f"{compiled} of {len(pack.patterns)} patterns compiled"

    peer("Hyperscan, literals + regexes", a.peer_mb, hyperscan)
    if jsonl is not None:
        lines = []
        for f in sorted(jsonl.glob("*.jsonl")):
            lines += f.read_bytes().splitlines()
        try:
            work = baselines.orjson_baseline(lines[: len(lines) // 4])
            size = sum(len(x) for x in lines[: len(lines) // 4])
            note = "JSONL bytes of a quarter of the corpus, parsing only"
            table.add(Row("peer", "orjson.loads per line", 1, size, best_of(1, work), note))
        except PeerMissingError as e:
            table.skip("peer", "orjson", f"{e} is not installed")
    peer(
        "datatrove Gopher quality + repetition",
        a.datatrove_mb,
        baselines.datatrove_baseline,
        "compare: fastscan statistics",
    )


def scaling(texts: list[str], a: argparse.Namespace) -> None:
    pack = fastscan.PatternPack.builtin(a.pack)
    scanner = fastscan.Scanner(pack, threads=1)
    started = time.perf_counter()
    fastscan.Scanner(pack, threads=1)
    compile_s = time.perf_counter() - started
    fixed = start_up(Path(a.data))
    print(
        f"\nscaling, 1 thread: start-up of a fastscan-filter command (one-record shard) "
        f"{fixed:.2f} s; compiling the pack {compile_s * 1e3:.0f} ms\n"
    )
    print(
        "| input MB | stage 1 s | stage 1 MB/s | command s | command MB/s | run clock s "
        "| run MB/s | command s less start-up | MB/s less start-up |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for mb in a.size_list:
        part = repeat_to(texts, mb) if mb <= a.mb else repeat_to(read_texts(a.corpus), mb)
        size = nbytes(part)
        array = as_arrow(part)
        s1 = best_of(a.repeat, lambda arr=array: scanner.scan(arr))  # type: ignore[misc]
        del array
        shards = write_shards(part, Path(a.data) / f"scaling-{mb:g}mb", "jsonl.zst")
        r = run_filter(shards, Path(a.data) / f"scaling-{mb:g}mb" / "out", 1)
        net = r.wall - fixed
        # Within 0.1 s of the start-up the difference is noise, not a rate.
        net_rate = f"{size / net / 1e6:,.0f}" if net > 0.1 else "(within start-up noise)"
        print(
            f"| {size / 1e6:,.1f} | {s1:.3f} | {size / s1 / 1e6:,.0f} | {r.wall:.2f} "
            f"| {size / r.wall / 1e6:,.0f} | {r.run:.2f} | {size / r.run / 1e6:,.0f} "
            f"| {net:.2f} | {net_rate} |",
            flush=True,
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("corpus")
    ap.add_argument("--mb", type=float, default=500.0)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--pack", default="tool-use")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--formats", default="jsonl,jsonl.zst,parquet")
    ap.add_argument("--stats-mb", type=float, default=50.0, help="slice for the statistics row")
    ap.add_argument("--re-mb", type=float, default=2.0, help="slice for Python re")
    ap.add_argument("--peer-mb", type=float, default=50.0, help="slice for the automaton peers")
    ap.add_argument("--datatrove-mb", type=float, default=2.0, help="slice for datatrove")
    ap.add_argument("--sizes", default="1,10,100,1000", help="scaling table sizes, MB")
    ap.add_argument("--no-e2e", action="store_true", help="skip the fastscan-filter rows")
    ap.add_argument("--no-scaling", action="store_true", help="skip the scaling table")
    ap.add_argument("--data", default="bench-data", help="where shard corpora are written")
    a = ap.parse_args()
    a.thread_counts = [int(t) for t in a.threads.split(",")]
    a.size_list = [float(s) for s in a.sizes.split(",")]

    texts = repeat_to(read_texts(a.corpus), a.mb)
    pack = fastscan.PatternPack.builtin(a.pack)
    n_lit = sum(p.kind == "literal" for p in pack.patterns)
    print(
        f"corpus {a.corpus}: {len(texts):,} documents, {nbytes(texts) / 1e6:,.1f} MB; pack "
        f"{pack.name}: {n_lit} literals, {len(pack.patterns) - n_lit} regexes; {platform.machine()}"
        f", Python {platform.python_version()}, fastscan {fastscan.__version__}",
        flush=True,
    )
    table = Table()
    jsonl = None if a.no_e2e else end_to_end(table, texts, a)
    if jsonl is not None:
        machine(table, sorted(jsonl.glob("*.jsonl"))[0])
    else:
        size, work = baselines.memory_read()
        table.add(Row("machine", "memory read (numpy sum of 1 GiB)", 1, size, best_of(3, work)))
    fastscan_rows(table, texts, a)
    peers(table, texts, jsonl, a)
    order = {"machine": 0, "fastscan": 1, "end to end": 2, "peer": 3}
    table.rows.sort(key=lambda r: order[r[0] if isinstance(r, tuple) else r.part])
    reference = next(
        r.per_core
        for r in table.rows
        if isinstance(r, Row) and r.name == "stage 1: patterns" and r.threads == 1
    )
    table.print(reference)
    if not a.no_scaling:
        scaling(texts, a)


if __name__ == "__main__":
    main()
