"""Benchmark corpus for pytest-benchmark: FASTSCAN_BENCH_CORPUS (a labeled directory or JSONL
file, e.g. ../shared/data/labeled), else the bundled samples; FASTSCAN_BENCH_MB sets the size.

Run `pytest benches --benchmark-only` for timings; `make test` runs them once with
`--benchmark-disable` as smoke tests.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from corpus import read_texts, repeat_to

ROOT = Path(__file__).parent.parent


@pytest.fixture(scope="session")
def bench_texts() -> list[str]:
    path = os.environ.get("FASTSCAN_BENCH_CORPUS", str(ROOT / "examples" / "samples.jsonl"))
    return repeat_to(read_texts(path), float(os.environ.get("FASTSCAN_BENCH_MB", "1")))
