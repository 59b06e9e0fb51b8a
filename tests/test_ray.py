"""fastscan on a real local Ray: shard-level and batch-level modes, threads, loopback only.

One Ray instance serves the module: 2 CPUs, a bounded object store, no dashboard, quiet
logs, bound to 127.0.0.1 (Ray's single-machine mode, RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0,
must be set before Ray is imported). Actor pools hold one actor: a pool as large as the CPUs
would starve Ray Data's own read tasks.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import fastscan
import fastscan.ray
from fastscan.filter.cli import main as cli_main
from shards import jsonl_bytes, many_records, tree_bytes, write_jsonl, write_parquet

RAY_CPUS = 2

# Ray warns about its own deprecated settings while starting up; that is not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:ray")


@pytest.fixture(scope="module")
def ray_local() -> Iterator[Any]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # loopback-only, one machine
        mp.setenv("RAY_DEDUP_LOGS", "0")
        import ray
        import ray.data

        ray.init(
            num_cpus=RAY_CPUS,
            include_dashboard=False,
            object_store_memory=128 << 20,
            logging_level=logging.ERROR,
            log_to_driver=False,
        )
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False
        try:
            yield ray
        finally:
            ray.shutdown()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Five shards of four formats, one of them truncated (a failed shard in every run)."""
    root = tmp_path_factory.mktemp("ray") / "in"
    records = many_records(3000)
    for i, name in enumerate(["a.jsonl", "sub/b.jsonl.gz", "sub/c.jsonl.zst"]):
        write_jsonl(root / name, jsonl_bytes(records[i * 600 : (i + 1) * 600]))
    write_parquet(root / "d.parquet", records[1800:2400], row_group_size=200)
    broken = write_jsonl(root / "e.jsonl.gz", jsonl_bytes(records[2400:]))
    broken.write_bytes(broken.read_bytes()[:-200])
    return root


def _loopback_listeners(port: int) -> list[bool]:
    """For each socket listening on TCP `port`: whether it is bound to a loopback address."""
    found = []
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        with open(table, encoding="ascii") as f:
            rows = [line.split() for line in f.readlines()[1:]]
        for row in rows:
            address, port_hex = row[1].split(":")
            if row[3] != "0A" or int(port_hex, 16) != port:  # 0A: LISTEN
                continue
            raw = bytes.fromhex(address)
            # /proc prints each 32-bit word in host order.
            words = struct.unpack(f"<{width // 8}I", raw)
            ip = b"".join(struct.pack(">I", w) for w in words)
            if width == 8:
                found.append(ip[0] == 127)
            else:
                text = socket.inet_ntop(socket.AF_INET6, ip)
                found.append(text == "::1" or text.startswith("::ffff:127."))
    return found


def test_ray_listens_on_loopback_only(ray_local: Any) -> None:
    ctx = ray_local.get_runtime_context()
    host, port = ctx.gcs_address.rsplit(":", 1)
    assert host == "127.0.0.1"
    (node,) = ray_local.nodes()
    assert node["NodeManagerAddress"] == "127.0.0.1"
    for p in (int(port), node["NodeManagerPort"], node["ObjectManagerPort"]):
        listeners = _loopback_listeners(p)
        assert listeners, f"nothing listens on port {p}"
        assert all(listeners), f"port {p} listens beyond loopback"


def _comparable(report: dict[str, Any]) -> dict[str, Any]:
    """The totals without the timings."""
    skip = {"seconds", "mb_per_s", "mb_per_s_per_thread"}
    return {k: v for k, v in report["totals"].items() if k not in skip}


def test_shard_level_run_equals_the_local_run(ray_local: Any, corpus: Path, tmp_path: Path) -> None:
    local = fastscan.filter_shards(corpus, tmp_path / "local", threads=2)
    ray_out = tmp_path / "ray"
    remote = fastscan.ray.filter_shards(corpus, ray_out)
    assert remote["executor"]["kind"] == "ray"
    assert remote["executor"]["cluster_cpus"] == RAY_CPUS
    assert _comparable(remote) == _comparable(local)
    assert remote["totals"]["ok"] == 4
    assert remote["totals"]["failed"] == 1
    assert remote["totals"]["kept"]["docs"] > 0
    (failed,) = [e for e in remote["shards"] if e["status"] == "failed"]
    assert failed["relative"] == "e.jsonl.gz"
    assert tree_bytes(ray_out, ("kept", "rejects")) == tree_bytes(
        tmp_path / "local", ("kept", "rejects")
    )
    for name in ("a.jsonl", "sub/b.jsonl.gz", "sub/c.jsonl.zst", "d.parquet"):
        ours = pq.read_table(ray_out / "scores" / f"{name}.parquet")
        theirs = pq.read_table(tmp_path / "local" / "scores" / f"{name}.parquet")
        assert ours.equals(theirs), name
    # Each task ran with the one CPU Ray gave it, not one thread per machine core.
    workers = [e["worker"] for e in remote["shards"]]
    assert {w["threads"] for w in workers} == {1}
    assert {w["omp_num_threads"] for w in workers} == {"1"}
    assert all(w["pid"] != os.getpid() for w in workers)


def test_ray_resumes_a_local_run_through_the_cli_flag(
    ray_local: Any, corpus: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    fastscan.filter_shards(corpus, out, threads=2)  # a local run, resumed on Ray below
    before = tree_bytes(out)
    # Lose one finished shard (its marker and outputs), as a killed run would have.
    (out / "_done" / "sub" / "c.jsonl.zst.json").unlink()
    (out / "kept" / "sub" / "c.jsonl.zst").unlink()
    rc = cli_main([str(corpus), "-o", str(out), "--ray", "-q"])
    assert rc == 1  # e.jsonl.gz still fails
    report = fastscan.filter_shards(corpus, out, dry_run=True)
    assert report["totals"]["done"] == 4
    assert tree_bytes(out) == before
    final = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert final["totals"]["resumed"] == 3  # a, b, d; c and e ran again
    assert final["executor"]["kind"] == "ray"


def test_batch_level_map_batches(ray_local: Any, corpus: Path) -> None:
    records = many_records(1200)
    table = pa.Table.from_pylist(records)
    ds = ray_local.data.from_arrow(table).repartition(4)
    settings: dict[str, Any] = {"min_score": 2.0, "stats": {"min": {"words": 30}}}
    scored = ds.map_batches(
        fastscan.ray.BatchScorer,
        fn_constructor_kwargs=settings,
        batch_format="pyarrow",
        batch_size=256,
        concurrency=1,
        num_cpus=1,
    )
    out = pa.concat_tables(scored.sort("id").iter_batches(batch_format="pyarrow"))
    expected = fastscan.BatchScorer(**settings)(table).sort_by("id")
    assert "stats" in expected.column("dropped_by").to_pylist()  # the later stage ran
    assert out.schema == expected.schema
    assert out.equals(expected)
    kept = ds.map_batches(
        fastscan.ray.BatchScorer,
        fn_constructor_kwargs={**settings, "kept_only": True},
        batch_format="pyarrow",
        concurrency=1,
        num_cpus=1,
    ).count()
    assert kept == expected.column("decision").to_pylist().count("kept")
    assert 0 < kept < len(records)


def test_workers_use_the_cpus_ray_assigned(ray_local: Any) -> None:
    # Defined here, not at module level, so that Ray ships them by value: the workers
    # cannot import this test module.
    def _scorer_threads() -> tuple[int, str]:
        scorer = fastscan.BatchScorer()
        return scorer.scanner.threads, scorer.scanner.thread_source

    class _Probe:
        def threads(self) -> tuple[int, str]:
            return _scorer_threads()

    probe = ray_local.remote(num_cpus=1)(_scorer_threads)
    assert ray_local.get(probe.remote()) == (1, "OMP_NUM_THREADS")
    actor = ray_local.remote(num_cpus=2)(_Probe).remote()
    assert ray_local.get(actor.threads.remote()) == (2, "OMP_NUM_THREADS")
    ray_local.kill(actor)


def test_shard_level_runs_a_cascade_config(ray_local: Any, corpus: Path, tmp_path: Path) -> None:
    config = tmp_path / "cascade.toml"
    config.write_text("[stats]\nmin = { words = 30 }\n", encoding="utf-8")
    local = fastscan.filter_shards(corpus, tmp_path / "local", config=config, threads=2)
    remote = fastscan.ray.filter_shards(corpus, tmp_path / "ray", config=config)
    assert _comparable(remote) == _comparable(local)
    assert [f["stage"] for f in remote["funnel"]] == ["patterns", "stats"]
    assert remote["funnel"] == [
        {**f, "seconds": g["seconds"], "setup_seconds": g["setup_seconds"],
         "docs_per_s": g["docs_per_s"], "mb_per_s": g["mb_per_s"]}
        for f, g in zip(local["funnel"], remote["funnel"], strict=True)
    ]  # fmt: skip
    assert tree_bytes(tmp_path / "ray", ("kept",)) == tree_bytes(tmp_path / "local", ("kept",))
