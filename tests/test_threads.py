"""Thread-count resolution and fork safety of the per-scanner pool."""

from __future__ import annotations

import multiprocessing
import os
import pickle
import warnings

import pytest

import fastscan


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FASTSCAN_THREADS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)


def test_argument_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FASTSCAN_THREADS", "3")
    monkeypatch.setenv("OMP_NUM_THREADS", "5")
    assert fastscan.resolve_threads(2) == (2, "argument")
    scanner = fastscan.Scanner(threads=2)
    assert (scanner.threads, scanner.thread_source) == (2, "argument")


def test_fastscan_threads_before_omp(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FASTSCAN_THREADS", "3")
    monkeypatch.setenv("OMP_NUM_THREADS", "5")
    assert fastscan.resolve_threads() == (3, "FASTSCAN_THREADS")


def test_omp_num_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "4,2")
    assert fastscan.resolve_threads() == (4, "OMP_NUM_THREADS")
    monkeypatch.setenv("OMP_NUM_THREADS", "many")
    assert fastscan.resolve_threads()[1] == "affinity"


def test_affinity_default() -> None:
    n, source = fastscan.resolve_threads()
    assert source == "affinity"
    assert n == len(os.sched_getaffinity(0))


def test_invalid_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        fastscan.Scanner(threads=0)
    with pytest.raises(OverflowError):
        fastscan.Scanner(threads=-1)
    monkeypatch.setenv("FASTSCAN_THREADS", "zero")
    with pytest.raises(ValueError, match="FASTSCAN_THREADS"):
        fastscan.Scanner()


def test_unpickled_scanner_resolves_threads_again(monkeypatch: pytest.MonkeyPatch) -> None:
    data = pickle.dumps(fastscan.Scanner())
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # what Ray sets in a 1-CPU worker
    clone = pickle.loads(data)
    assert (clone.threads, clone.thread_source) == (1, "OMP_NUM_THREADS")


def _scan_in_child(scanner: fastscan.Scanner, queue: multiprocessing.Queue[float]) -> None:
    queue.put(scanner.scan(["<tool_call>"] * 64).column("score").to_pylist()[0])


@pytest.mark.timeout(60)
def test_pool_survives_fork() -> None:
    scanner = fastscan.Scanner(threads=2)
    parent = scanner.scan(["<tool_call>"] * 64).column("score").to_pylist()[0]  # pool started
    ctx = multiprocessing.get_context("fork")
    queue: multiprocessing.Queue[float] = ctx.Queue()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads (3.12+)
        child = ctx.Process(target=_scan_in_child, args=(scanner, queue))
        child.start()
    child.join(30)
    assert child.exitcode == 0
    assert queue.get(timeout=5) == parent
