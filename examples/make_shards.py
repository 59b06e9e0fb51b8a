"""Rebuilds examples/shards/ (the `make demo` input) from examples/samples.jsonl.

The 16 samples are split over three shards in three formats: plain JSONL, zstd-compressed
JSONL in a sub-directory, and Parquet. Run from the repository root:
``python examples/make_shards.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).parent


def main() -> None:
    lines = (HERE / "samples.jsonl").read_bytes().splitlines(keepends=True)
    out = HERE / "shards"
    (out / "web").mkdir(parents=True, exist_ok=True)
    (out / "docs-0.jsonl").write_bytes(b"".join(lines[0:6]))
    with pa.CompressedOutputStream(str(out / "web" / "crawl-1.jsonl.zst"), "zstd") as f:
        f.write(b"".join(lines[6:11]))
    records = [json.loads(line) for line in lines[11:16]]
    pq.write_table(pa.Table.from_pylist(records), out / "climb-2.parquet", compression="zstd")


if __name__ == "__main__":
    main()
