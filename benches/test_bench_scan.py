"""pytest-benchmark groups for the cases of benches/throughput.py, each with its peers beside it.

Groups: `stage1` (fastscan on 1 and 2 threads, ahocorasick_rs, pyahocorasick, Hyperscan),
`stage1-small` (Python `re` is too slow for the full corpus), `stages12` (patterns + DSIR),
`statistics` (fastscan's Gopher features beside datatrove's Gopher filters), `parse` (orjson
beside fastscan-filter's JSONL path) and `machine` (memory read). A peer that is not installed
is skipped with its name in the reason.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import baselines
import fastscan
from corpus import as_arrow, repeat_to
from fastscan.ngrams import NgramModel

Bench = Callable[..., object]


@pytest.fixture(scope="module")
def pack() -> fastscan.PatternPack:
    return fastscan.PatternPack.builtin("tool-use")


def peer(make: Callable[[], object]) -> Callable[[], object]:
    try:
        made = make()
    except baselines.PeerMissingError as e:
        pytest.skip(f"{e} is not installed")
    return made[0] if isinstance(made, tuple) else made  # type: ignore[return-value]


@pytest.mark.benchmark(group="stage1")
@pytest.mark.parametrize("threads", [1, 2])
def test_fastscan_stage1(
    benchmark: Bench, bench_texts: list[str], pack: fastscan.PatternPack, threads: int
) -> None:
    scanner = fastscan.Scanner(pack, threads=threads)
    array = as_arrow(bench_texts)
    benchmark(scanner.scan, array)
    assert scanner.scan(array).num_rows == len(bench_texts)


@pytest.mark.benchmark(group="stage1")
@pytest.mark.parametrize(
    "make",
    [
        baselines.ahocorasick_rs_baseline,
        baselines.pyahocorasick_baseline,
        baselines.hyperscan_baseline,
    ],
    ids=["ahocorasick_rs", "pyahocorasick", "hyperscan"],
)
def test_peer_stage1(
    benchmark: Bench,
    bench_texts: list[str],
    pack: fastscan.PatternPack,
    make: Callable[[fastscan.PatternPack, list[str]], object],
) -> None:
    benchmark(peer(lambda: make(pack, bench_texts)))


@pytest.mark.benchmark(group="stage1-small")
def test_python_re_small(
    benchmark: Bench, bench_texts: list[str], pack: fastscan.PatternPack
) -> None:
    benchmark(baselines.re_baseline(pack, repeat_to(bench_texts, 0.1)))


@pytest.mark.benchmark(group="stage1-small")
def test_fastscan_small(
    benchmark: Bench, bench_texts: list[str], pack: fastscan.PatternPack
) -> None:
    benchmark(fastscan.Scanner(pack, threads=1).scan, as_arrow(repeat_to(bench_texts, 0.1)))


@pytest.mark.benchmark(group="stages12")
def test_fastscan_stages12(
    benchmark: Bench, bench_texts: list[str], pack: fastscan.PatternPack
) -> None:
    half = len(bench_texts) // 2
    model = NgramModel.fit(bench_texts[:half], bench_texts[half:], threads=1)
    scanner = fastscan.Scanner(pack, threads=1)
    array = as_arrow(bench_texts)
    benchmark(lambda: (scanner.scan(array), model.importance(array)))


@pytest.mark.benchmark(group="statistics")
def test_fastscan_statistics(
    benchmark: Bench, bench_texts: list[str], pack: fastscan.PatternPack
) -> None:
    small = as_arrow(repeat_to(bench_texts, 0.1))
    benchmark(fastscan.Scanner(pack, threads=1).stats, small)


@pytest.mark.benchmark(group="statistics")
def test_datatrove_gopher(benchmark: Bench, bench_texts: list[str]) -> None:
    benchmark(peer(lambda: baselines.datatrove_baseline(repeat_to(bench_texts, 0.1))))


@pytest.mark.benchmark(group="parse")
def test_orjson_lines(benchmark: Bench, bench_texts: list[str]) -> None:
    lines = [json.dumps({"text": t}).encode() for t in bench_texts]
    benchmark(peer(lambda: baselines.orjson_baseline(lines)))


@pytest.mark.benchmark(group="parse")
def test_fastscan_filter_jsonl(benchmark: Bench, bench_texts: list[str], tmp_path: Path) -> None:
    from fastscan.filter.run import filter_shards

    shard = tmp_path / "in" / "part.jsonl"
    shard.parent.mkdir()
    shard.write_text("".join(json.dumps({"text": t}) + "\n" for t in bench_texts))
    out = tmp_path / "out"
    reports: list[dict[str, Any]] = []
    benchmark(lambda: reports.append(filter_shards([shard.parent], out, threads=1, overwrite=True)))
    assert reports[-1]["totals"]["read"]["docs"] == len(bench_texts)


@pytest.mark.benchmark(group="machine")
def test_memory_read(benchmark: Bench) -> None:
    _, work = baselines.memory_read(64)
    benchmark(work)


def test_extraction_of_specs_written_by_hand_is_exact() -> None:
    """`extract_quality.py`'s table: every extractor finds every hand-written spec, its
    parameters and its required ones, and nothing else."""
    from extract_quality import measure

    table = measure()
    assert {"function_spec", "api_entry", "toolbench", "openapi", "python", "table"} <= set(table)
    for ext, row in table.items():
        for key in ("names", "params", "required"):
            assert (row[key].precision(), row[key].recall()) == (1.0, 1.0), (ext, key)
