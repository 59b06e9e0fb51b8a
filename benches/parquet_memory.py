"""Peak memory of fastscan-filter on one large Parquet shard (bounded, whatever its size).

    python benches/parquet_memory.py ../shared/data/labeled [--gb 2] [--row-group-mb 128]

Writes the corpus texts, repeated, into one zstd Parquet shard of --gb gigabytes of text in
row groups of --row-group-mb, runs ``fastscan-filter --threads 1`` on it in a fresh process
and prints its peak RSS (the child's ``ru_maxrss``) and MB/s of text.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).parent))

from corpus import read_texts


def write_shard(texts: list[str], path: Path, gigabytes: float, row_group_mb: int) -> int:
    writer: pq.ParquetWriter | None = None
    written, i = 0, 0
    while written < gigabytes * 1e9:
        chunk: list[str] = []
        size = 0
        while size < row_group_mb * 1e6:
            text = texts[i % len(texts)]
            chunk.append(text)
            size += len(text.encode())
            i += 1
        table = pa.table({"id": pa.array(range(i - len(chunk), i)), "text": chunk})
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema, compression="zstd")
        writer.write_table(table)
        written += size
    assert writer is not None
    writer.close()
    return written


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corpus")
    ap.add_argument("--gb", type=float, default=2.0)
    ap.add_argument("--row-group-mb", type=int, default=128)
    args = ap.parse_args()
    texts = read_texts(args.corpus)
    with tempfile.TemporaryDirectory() as tmp:
        shard = Path(tmp) / "big.parquet"
        text_bytes = write_shard(texts, shard, args.gb, args.row_group_mb)
        command = [str(Path(sys.executable).parent / "fastscan-filter"), str(shard)]
        command += ["-o", str(Path(tmp) / "out"), "-q", "--threads", "1"]
        started = time.perf_counter()
        subprocess.run(command, check=True)
        seconds = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(
            f"{text_bytes / 1e9:.2f} GB of text in one Parquet shard "
            f"({shard.stat().st_size / 1e6:,.0f} MB on disk, {args.row_group_mb} MB row "
            f"groups): peak RSS {peak:,.0f} MiB, {text_bytes / 1e6 / seconds:,.0f} MB/s "
            "(fastscan-filter --threads 1, whole command)"
        )


if __name__ == "__main__":
    main()
