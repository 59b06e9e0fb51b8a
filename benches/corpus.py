"""Benchmark corpora: texts from a labeled directory or JSONL file, repeated to a size; and
`best_of`, the one timing helper the bench scripts share."""

from __future__ import annotations

import gzip
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa


def read_texts(path: str | os.PathLike[str], text_field: str = "text") -> list[str]:
    """Every text of a `.jsonl[.gz]` file, or of all such files under a directory."""
    root = Path(path)
    files = sorted(root.rglob("*.jsonl*")) if root.is_dir() else [root]
    texts: list[str] = []
    for file in files:
        opener = gzip.open if file.name.endswith(".gz") else open
        with opener(file, "rt", encoding="utf-8") as f:
            texts.extend(json.loads(line)[text_field] for line in f if line.strip())
    if not texts:
        raise SystemExit(f"no texts found under {path}")
    return texts


def repeat_to(texts: list[str], megabytes: float) -> list[str]:
    """The texts, repeated in order until they total at least `megabytes` of UTF-8."""
    out: list[str] = []
    total, target = 0, megabytes * 1e6
    while total < target:
        for text in texts:
            out.append(text)
            total += len(text.encode())
            if total >= target:
                break
    return out


def as_arrow(texts: list[str]) -> pa.Array:
    """One contiguous large_string array: the layout a Parquet/Arrow reader hands over."""
    return pa.array(texts, type=pa.large_string())


def nbytes(texts: list[str]) -> int:
    return sum(len(t.encode()) for t in texts)


def best_of(repeat: int, fn: Callable[[], object]) -> float:
    """The fastest of `repeat` calls of `fn`, in seconds."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best
