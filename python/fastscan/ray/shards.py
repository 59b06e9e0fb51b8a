"""Shard-level Ray mode: every pending shard is one Ray task running the local pipeline.

The driver plans, resumes, selects and writes the report exactly as the local run does
(`Run`); each task scores one shard (phase 1) into the shared output directory (staging,
commit, marker) and returns its entry; the driver then runs phase 2 (the ranking over
all shards and the kept files) on its own threads. The output directory and the inputs
must therefore be visible to every node under the same path (NFS, Lustre, a FUSE mount).
"""

from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path
from typing import Any

from fastscan.filter.config import FilterConfig
from fastscan.filter.context import Context
from fastscan.filter.plan import Shard
from fastscan.filter.progress import Reporter, Silent
from fastscan.filter.run import ConfigSpec, Inputs, Run, UsageError, load_tokenizer
from fastscan.filter.shard import attempt_shard, failed_entry
from fastscan.pipeline import Pipeline
from fastscan.scanner import Scanner

# Tasks in flight per CPU slot: enough to keep every slot busy while results come back.
IN_FLIGHT_PER_SLOT = 2


def import_ray() -> Any:
    """The ``ray`` module, or a `UsageError` saying how to install it."""
    try:
        import ray
    except ImportError as e:
        raise UsageError(
            "Ray mode needs Ray: pip install 'fastscan[ray]' (on every node of the cluster)"
        ) from e
    return ray


def connect(address: str | None) -> bool:
    """Joins the cluster at ``address`` (``auto``, ``ray://host:10001``, ``host:6379``), or
    starts a local one when it is None and ``RAY_ADDRESS`` is unset; True when this call
    started the connection (and its caller should shut it down)."""
    ray = import_ray()
    if ray.is_initialized():
        return False
    ray.init(address=address, include_dashboard=False, logging_level=logging.WARNING)
    return True


def filter_shards(
    inputs: Inputs,
    output: str | os.PathLike[str],
    *,
    config: ConfigSpec = None,
    address: str | None = None,
    cpus_per_task: int = 1,
    overwrite: bool = False,
    dry_run: bool = False,
    reporter: Reporter | None = None,
    **settings: Any,
) -> dict[str, Any]:
    """`fastscan.filter_shards` with one Ray task per pending shard.

    Args:
        inputs, output, config, overwrite, dry_run, reporter, settings: as for
            `fastscan.filter_shards`; the outputs, markers, resume and report are the same.
        address: the cluster to join; None uses an initialised Ray, then ``RAY_ADDRESS``,
            then starts a local Ray.
        cpus_per_task: CPUs each shard task reserves; its scanner uses that many threads.

    A task that dies (worker crash, node lost) after Ray's retries leaves its shard
    ``failed`` in the report, like a shard that cannot be read; the others finish.
    """
    if cpus_per_task < 1:
        raise UsageError("cpus_per_task must be at least 1")
    run = Run.open(inputs, output, config, settings)
    if dry_run:
        return run.dry_run(overwrite)
    ray = import_ray()
    run.prepare(overwrite)
    reporter = reporter or Reporter(quiet=True)
    started_here = connect(address)
    run_id = run.run_lock.run_id
    try:
        cluster_cpus = int(ray.cluster_resources().get("CPU", 1))
        slots = max(1, min(cluster_cpus // cpus_per_task, len(run.pending)))
        run.start(reporter, slots * cpus_per_task)
        task = ray.remote(_filter_shard).options(num_cpus=cpus_per_task, max_retries=2)
        out = str(run.out.resolve())
        config_ref = ray.put(_absolute_paths(run.config))
        queue = [dataclasses.replace(s, path=s.path.resolve()) for s in reversed(run.pending)]
        in_flight: dict[Any, Shard] = {}
        while queue or in_flight:
            while queue and len(in_flight) < slots * IN_FLIGHT_PER_SLOT:
                shard = queue.pop()
                in_flight[task.remote(shard, config_ref, out, run_id)] = shard
            ready, _ = ray.wait(list(in_flight), num_returns=1)
            for ref in ready:
                shard = in_flight.pop(ref)
                try:
                    entry = ray.get(ref)
                except ray.exceptions.RayError as e:
                    entry = failed_entry(shard, f"Ray task failed: {e}", 0.0)
                reporter.advance(shard.size, entry.get("records", 0), entry.get("text_bytes", 0))
                run.record(entry, reporter)
        executor = {
            "kind": "ray",
            "address": ray.get_runtime_context().gcs_address,
            "cluster_cpus": cluster_cpus,
            "nodes": sum(1 for n in ray.nodes() if n.get("Alive")),
            "cpus_per_task": cpus_per_task,
        }
        return run.finish(reporter, threads=slots * cpus_per_task, executor=executor)
    finally:
        run.release()
        if started_here:
            ray.shutdown()


def _absolute_paths(cfg: FilterConfig) -> FilterConfig:
    """The config with its file paths absolute: a worker's current directory is its own."""
    changes: dict[str, Any] = {}
    if cfg.tokenizer:
        changes["tokenizer"] = str(Path(cfg.tokenizer).resolve())
    if Path(cfg.pack).suffix in (".toml", ".json") and Path(cfg.pack).exists():
        changes["pack"] = str(Path(cfg.pack).resolve())
    for section, keys in (
        ("dsir", ("model",)),
        ("static", ("gold", "model")),
        ("semantic", ("gold", "model")),
    ):
        table = getattr(cfg, section)
        if table is None:
            continue
        table = dict(table)
        for key in keys:
            value = table.get(key)
            if isinstance(value, str) and Path(value).exists():
                table[key] = str(Path(value).resolve())
        changes[section] = table
    return cfg.with_overrides(**changes)


def _filter_shard(shard: Shard, cfg: FilterConfig, out: str, run_id: str) -> dict[str, Any]:
    """The Ray task: one shard through the local pipeline, threads = the CPUs Ray assigned."""
    ray = import_ray()

    assigned = ray.get_runtime_context().get_assigned_resources().get("CPU", 1.0)
    scanner = Scanner(cfg.load_pack(), max(1, int(assigned)))
    ctx = Context(
        config=cfg,
        out=Path(out),
        tokenizer=load_tokenizer(cfg),
        pipeline=Pipeline(cfg, scanner),
        run_id=run_id,
    )
    entry = attempt_shard(shard, ctx, Silent())
    entry["worker"] = {
        "node": ray.util.get_node_ip_address(),
        "pid": os.getpid(),
        "threads": scanner.threads,
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
    }
    return entry
