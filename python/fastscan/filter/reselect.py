"""``fastscan select``: a finished run decided again with new thresholds, into a new
directory, from its scores alone (phase 2 of `fastscan.filter.run` over another run's
phase 1): no record is scanned or embedded again.

    fastscan select RUN_DIR -o NEW_OUT --min-score 4
    fastscan select RUN_DIR -o NEW_OUT --top-fraction 0.1 --by similarity
    fastscan select RUN_DIR -o NEW_OUT --config stricter.toml

Only thresholds may change (the keep rule, the stages' bounds and rankings, the output
format); a record that the new settings let reach a stage the run never measured it at is
an error that says so.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from fastscan.cascade.decide import NotMeasuredError, decide
from fastscan.filter.config import ConfigError, FilterConfig
from fastscan.filter.outdir import RunLock
from fastscan.filter.plan import Shard
from fastscan.filter.progress import Reporter
from fastscan.filter.run import ConfigSpec, Run, UsageError, readable_parquet
from fastscan.pipeline import Pipeline
from fastscan.scanner import resolve_threads


def select_run(
    run_dir: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    config: ConfigSpec = None,
    top_fraction: float | None = None,
    by: str | None = None,
    threads: int | None = None,
    overwrite: bool = False,
    reporter: Reporter | None = None,
    **settings: Any,
) -> dict[str, Any]:
    """``fastscan select``: decides the records of a finished run again, with new
    thresholds, into `output` (kept files, scores, rejects, markers, report) without
    scanning or embedding; the result is what ``fastscan-filter`` writes with the same
    settings. Takes a `FilterConfig`, a ``cascade.toml`` or the run's own settings, with
    `settings` (``min_score=3``, ...) over it; ``top_fraction`` ranks by the column `by`.
    """

    source = Path(run_dir)
    try:
        recorded = json.loads((source / "run.json").read_text(encoding="utf-8"))["config"]
    except (OSError, ValueError, KeyError) as e:
        raise UsageError(f"{source} is not a fastscan-filter output (no run.json): {e}") from None
    base = config if config is not None else settings_of(recorded)
    cfg = FilterConfig.resolve(base, **settings)
    if top_fraction is not None or by is not None:
        if top_fraction is None:
            raise UsageError("--by goes with --top-fraction")
        try:
            cfg = cfg.ranked_by(top_fraction, by)
        except ConfigError as e:
            raise UsageError(str(e)) from None
    if Path(output).resolve() == source.resolve():
        raise UsageError("select writes a new directory: give another -o than the run's")
    same_scan(recorded, cfg)
    scored = finished_run(source)
    shards = [Shard(Path(e["path"]), e["relative"], e["format"], e["input_bytes"]) for e in scored]
    pipeline = Pipeline(cfg)
    decidable(pipeline, source, scored)  # before anything is written
    run = Run(cfg, Path(output), shards, [], [e["path"] for e in scored], command="select")
    run.prepare(overwrite)
    try:
        run.pending = []
        run.scored = {e["relative"]: e for e in scored}
        reporter = reporter or Reporter(quiet=True)
        total, _ = resolve_threads(threads)
        run.start(reporter, total)
        return run.finish(
            reporter, threads=total, executor={"kind": "select"}, pipeline=pipeline, source=source
        )
    finally:
        run.release()


def decidable(pipeline: Pipeline, source: Path, scored: list[dict[str, Any]]) -> None:
    """Raises `UsageError` when the new settings would let a record reach a stage the run
    never measured it at (they are looser than the run's)."""
    for entry in scored:
        with open(source / entry["scored"]["scores"], "rb") as handle:
            table = pq.ParquetFile(handle).read()
        try:
            decide(pipeline.stages, table)
        except NotMeasuredError as e:
            raise UsageError(f"{entry['relative']}: {e}; select can only tighten") from None


def settings_of(recorded: dict[str, Any]) -> FilterConfig:
    """A run's `FilterConfig` from its run.json fingerprint."""

    names = {f.name for f in dataclasses.fields(FilterConfig)}
    values = {k: v for k, v in recorded.items() if k in names}
    values["require"] = tuple(values.get("require") or ())
    return FilterConfig(**values)


# What select may change: the keep rule, the stages' thresholds and rankings, the outputs.
THRESHOLDS = {
    "min_score",
    "require",
    "top_fraction",
    "top_fraction_of",
    "output_format",
    "output_compression",
    "lmflow_shard_mb",
}
STAGE_THRESHOLDS = {
    "min",
    "max",
    "min_log_importance",
    "min_similarity",
    "top_fraction",
    "top_fraction_of",
}


def same_scan(recorded: dict[str, Any], cfg: FilterConfig) -> None:
    """Raises `UsageError` when `cfg` measures records otherwise than the run did (another
    pack, text field, model, gold set, stage): only thresholds may change."""

    def scan_part(fingerprint: dict[str, Any]) -> dict[str, Any]:
        out = {}
        for key, value in fingerprint.items():
            if key in THRESHOLDS:
                continue
            if isinstance(value, dict):
                value = {k: v for k, v in value.items() if k not in STAGE_THRESHOLDS}
            out[key] = value
        return out

    old, new = scan_part(recorded), scan_part(cfg.fingerprint())
    changed = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    if changed:
        raise UsageError(
            f"select can change thresholds only; these settings differ from the run's: "
            f"{', '.join(changed)} (run fastscan-filter again for them)"
        )


def finished_run(source: Path) -> list[dict[str, Any]]:
    """The phase-1 markers of every shard of a finished run, in the run's order; raises
    `UsageError`, saying what to do, for a run that is still going (its lock is live), that
    did not finish (no report, a planned shard without scores) or in which a shard failed:
    select decides a whole run or nothing."""
    again = "run the same fastscan-filter command again to finish it, then select"
    holder = RunLock(source).holder()
    if holder is not None and RunLock.live(holder):
        raise UsageError(
            f"{source} is in use by a running fastscan run (pid {holder.get('pid')} on "
            f"{holder.get('host')}): wait for it to finish, then select"
        )
    try:
        report = json.loads((source / "report.json").read_text(encoding="utf-8"))
        planned = report["shards"]
    except (OSError, ValueError, KeyError, TypeError):
        raise UsageError(f"{source} holds an unfinished run (no report.json): {again}") from None
    failed = [e for e in planned if e.get("status") != "ok"]
    if failed:
        first = failed[0]
        raise UsageError(
            f"{len(failed)} shard(s) of {source} failed (first: {first['relative']}: "
            f"{first.get('error')}): {again}"
        )
    entries = []
    for e in planned:
        marker = source / "_scored" / f"{e['relative']}.json"
        try:
            entry = json.loads(marker.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise UsageError(
                f"{source} holds an unfinished run ({e['relative']} has no scores): {again}"
            ) from None
        scores = source / entry["scored"]["scores"]
        if not readable_parquet(scores):
            raise UsageError(
                f"{scores} is missing or cut short (not a whole Parquet file): {again}"
            )
        entries.append(entry)
    if not entries:
        raise UsageError(f"{source} holds no scored shard (run fastscan-filter first)")
    return entries
