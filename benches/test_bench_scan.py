"""pytest-benchmark groups for stage 1, each with its baselines beside it."""

from __future__ import annotations

from collections.abc import Callable

import pytest

import fastscan
from corpus import as_arrow, repeat_to
from throughput import ahocorasick_baseline, re_baseline


@pytest.fixture(scope="module")
def pack() -> fastscan.PatternPack:
    return fastscan.PatternPack.builtin("tool-use")


@pytest.mark.benchmark(group="scan")
@pytest.mark.parametrize("threads", [1, 2])
def test_fastscan_arrow(
    benchmark: Callable[..., object],
    bench_texts: list[str],
    pack: fastscan.PatternPack,
    threads: int,
) -> None:
    scanner = fastscan.Scanner(pack, threads=threads)
    array = as_arrow(bench_texts)
    benchmark(scanner.scan, array)
    assert scanner.scan(array).num_rows == len(bench_texts)


@pytest.mark.benchmark(group="scan")
def test_fastscan_list(
    benchmark: Callable[..., object], bench_texts: list[str], pack: fastscan.PatternPack
) -> None:
    scanner = fastscan.Scanner(pack, threads=1)
    benchmark(scanner.scan, bench_texts)


@pytest.mark.benchmark(group="scan")
def test_ahocorasick_rs(
    benchmark: Callable[..., object], bench_texts: list[str], pack: fastscan.PatternPack
) -> None:
    benchmark(ahocorasick_baseline(pack, bench_texts))


@pytest.mark.benchmark(group="scan-small")
def test_python_re_small(
    benchmark: Callable[..., object], bench_texts: list[str], pack: fastscan.PatternPack
) -> None:
    small = repeat_to(bench_texts, 0.1)
    benchmark(re_baseline, pack, small)


@pytest.mark.benchmark(group="scan-small")
def test_fastscan_small(
    benchmark: Callable[..., object], bench_texts: list[str], pack: fastscan.PatternPack
) -> None:
    small = as_arrow(repeat_to(bench_texts, 0.1))
    benchmark(fastscan.Scanner(pack, threads=1).scan, small)
