"""`filter_shards`: plan, resume, score every shard, select over the run, write the report.

A run has two phases. Phase 1 scores each pending shard (`fastscan.filter.shard`: read once,
every stage, scores and rejects committed, marker ``_scored/``); `filter_shards` runs it on
local threads, `fastscan.ray.filter_shards` as Ray tasks. Phase 2 (`fastscan.filter.select`)
decides every record over the whole run (a ``top_fraction`` ranks all shards) and writes the
kept files (marker ``_done/``). `Run` holds what both executors share: the plan, resume, the
output directory, phase 2, the report. A killed run resumes in either phase.
"""

from __future__ import annotations

import contextlib
import datetime
import itertools
import json
import os
import shutil
import threading
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from fastscan import __version__, _fastscan
from fastscan.cascade.decide import NotMeasuredError
from fastscan.cascade.funnel import StageFunnel
from fastscan.cascade.ranking import Cutoff
from fastscan.filter.config import FilterConfig
from fastscan.filter.context import Context
from fastscan.filter.distributions import merge as merge_summaries
from fastscan.filter.outdir import LockedError, RunLock, remove_outputs, same_input
from fastscan.filter.outputs import output_paths
from fastscan.filter.plan import PlanError, Shard, check_outputs, plan, run_record
from fastscan.filter.progress import Reporter
from fastscan.filter.report import write_html
from fastscan.filter.samples import collect as collect_samples
from fastscan.filter.select import Selector, cutoffs, order, select_shard
from fastscan.filter.shard import attempt, attempt_shard, marker_path, scored_path
from fastscan.filter.tally import Tally
from fastscan.pipeline import Pipeline
from fastscan.scanner import Scanner, resolve_threads
from fastscan.terminal import Interrupted, count

# Seconds Ctrl-C waits for running shards to stop before the run gives up on them.
STOP_WAIT = 1.0

# The run-level files --overwrite removes (with the files the markers list; nothing else).
RUN_FILES = ("run.json", "report.json", "report.html")
# The commands that write a filter run's directory (each may resume the other's).
FILTER_COMMANDS = ("fastscan-filter", "select")

Inputs = Sequence[str | os.PathLike[str]] | str | os.PathLike[str]
ConfigSpec = FilterConfig | str | os.PathLike[str] | None


class UsageError(ValueError):
    """A run that cannot start: bad inputs, an output directory from another config."""


def filter_shards(
    inputs: Inputs,
    output: str | os.PathLike[str],
    *,
    config: ConfigSpec = None,
    threads: int | None = None,
    overwrite: bool = False,
    dry_run: bool = False,
    reporter: Reporter | None = None,
    **settings: Any,
) -> dict[str, Any]:
    """Filters shards into ``output``; returns the report (also written as report.json).

    Args:
        inputs: files, directories (read recursively) and globs.
        output: the output directory (created; a rerun resumes it).
        config: a `FilterConfig` or a path to a ``cascade.toml``.
        threads: threads for the whole run (shards in parallel and inside each shard).
        overwrite: start over, removing fastscan's outputs in ``output`` first.
        dry_run: plan only: list the shards and what a run would do, write nothing.
        reporter: progress display (default: silent).
        **settings: `FilterConfig` fields overriding the config (``min_score=3``, ...).

    The report's ``totals`` and every ``shards`` entry satisfy
    ``read == kept + dropped + rejected`` (documents and bytes). A shard that fails is
    reported with its error and leaves no outputs; the others finish.
    """
    run = Run.open(inputs, output, config, settings)
    if dry_run:
        return run.dry_run(overwrite)
    run.prepare(overwrite)
    try:
        return _run_local(run, threads, reporter)
    finally:
        run.release()


def _run_local(run: Run, threads: int | None, reporter: Reporter | None) -> dict[str, Any]:
    # With at least as many pending shards as threads, shards run side by side, each on one
    # thread (its scanner inline, no reader thread): per-shard steps that do not split
    # (decompression, writing) then scale too. Otherwise the threads go inside each shard.
    total, _ = resolve_threads(threads)
    workers = max(1, min(total, len(run.pending)))
    scanner = Scanner(run.config.load_pack(), max(1, total // workers))
    ctx = Context(
        config=run.config,
        out=run.out,
        tokenizer=load_tokenizer(run.config),
        pipeline=Pipeline(run.config, scanner),
        run_id=run.run_lock.run_id,
    )
    reporter = reporter or Reporter(quiet=True)
    run.start(reporter, total)

    def one(shard: Shard) -> None:
        run.record(attempt_shard(shard, ctx, reporter), reporter)

    in_parallel(run, reporter, run.pending, one, workers)
    return run.finish(reporter, threads=total, executor={"kind": "local"}, pipeline=ctx.pipeline)


def in_parallel(run: Run, reporter: Reporter, items: Sequence[Any], one: Any, workers: int) -> None:
    """Calls `one` on every item, `workers` at a time; Ctrl-C stops the run resumably."""
    pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="fastscan-shard")
    futures: list[Future[None]] = []
    try:
        if workers <= 1:
            for item in items:
                one(item)
        else:
            # A few items per worker in flight, not one future per item: memory and the
            # waiting below stay the same for 100,000 tiny shards as for ten.
            pending = iter(items)
            window = 4 * workers
            futures = [pool.submit(one, item) for item in itertools.islice(pending, window)]
            # Waiting in short steps keeps the main thread ready for Ctrl-C.
            while futures:
                done, _ = wait(futures, timeout=0.25, return_when=FIRST_EXCEPTION)
                for future in done:
                    future.result()
                futures = [f for f in futures if not f.done()]
                futures += [
                    pool.submit(one, item)
                    for item in itertools.islice(pending, window - len(futures))
                ]
    except (KeyboardInterrupt, Interrupted):
        # Running shards stop at their next block or batch; one busy loading a model is not
        # waited for longer than STOP_WAIT (its staging goes with the run's).
        reporter.cancel()
        pool.shutdown(wait=False, cancel_futures=True)
        wait(futures, timeout=STOP_WAIT)
        raise Interrupted(run.interrupted(reporter)) from None
    pool.shutdown(wait=True)


def load_tokenizer(cfg: FilterConfig) -> _fastscan.Tokenizer | None:
    """The config's token-id vocabulary, when it names one."""
    if not cfg.tokenizer:
        return None
    return _fastscan.Tokenizer(Path(cfg.tokenizer).read_text(encoding="utf-8"))


class Run:
    """One run over an output directory: the plan, resume, per-shard entries, the report.

    Build with `open`; then `prepare` (or `dry_run`), `start`, `record` each finished shard
    (from any thread), and `finish`.
    """

    def __init__(
        self,
        config: FilterConfig,
        out: Path,
        shards: list[Shard],
        ignored: list[str],
        inputs: Sequence[str] = (),
        command: str = "fastscan-filter",
    ) -> None:
        self.command = command
        self.inputs = [str(i) for i in inputs]
        self.run_lock = RunLock(out)
        self.changed: list[str] = []
        self.vanished: list[dict[str, Any]] = []
        self.config = config
        self.out = out
        self.shards = shards
        self.ignored = ignored
        self.fingerprint = config.fingerprint()
        self.entries: dict[str, dict[str, Any]] = {}  # finished or failed shards
        self.scored: dict[str, dict[str, Any]] = {}  # phase 1 entries
        self.fresh: set[str] = set()  # shards this invocation scored
        self.cutoffs: dict[str, Cutoff] = {}  # where each ranking ended (phase 2)
        self.pending: list[Shard] = []
        self.started = time.perf_counter()  # the invocation: planning, the lock, set-up
        self.lock = threading.Lock()
        try:  # before anything is written, under --dry-run too
            check_outputs(((s, output_paths(s, config)) for s in shards), reserved=RUN_FILES)
        except PlanError as e:
            raise UsageError(str(e)) from None

    @classmethod
    def open(
        cls,
        inputs: Inputs,
        output: str | os.PathLike[str],
        config: ConfigSpec,
        settings: dict[str, Any],
    ) -> Run:
        """Resolves the config and plans the shards; raises `UsageError` when it cannot."""
        if isinstance(inputs, (str, os.PathLike)):
            inputs = [inputs]
        cfg = FilterConfig.resolve(config, **settings)
        try:
            shards, ignored = plan(list(inputs), out=output)
        except ValueError as e:
            raise UsageError(str(e)) from e
        cfg.check()  # before anything is written, under --dry-run too
        return cls(cfg, Path(output), shards, ignored, [os.fspath(i) for i in inputs])

    def prepare(self, overwrite: bool) -> None:
        """Takes OUT's lock, readies OUT (checking or writing run.json), and sorts shards into
        done / changed / pending; markers of inputs that are gone are listed as vanished."""
        try:
            self.run_lock.acquire()
        except LockedError as e:
            raise UsageError(str(e)) from None
        try:
            _prepare(self.out, self.fingerprint, overwrite, self.command)
        except BaseException:
            self.run_lock.release()
            raise
        shutil.rmtree(self.out / "_tmp", ignore_errors=True)  # dead runs' staging (we hold OUT)
        for shard in self.shards:
            scored = _load_scored(self.out, shard)
            if scored is not None and not same_input(scored, shard.path):
                self.changed.append(shard.relative)
                scored = None
            if scored is not None:
                self.scored[shard.relative] = scored
            else:
                self.pending.append(shard)
        self.vanished = _vanished(self.out, {s.relative for s in self.shards})

    def release(self) -> None:
        """Gives OUT's lock back (the run finished, failed or was interrupted)."""
        self.run_lock.release()

    def start(self, reporter: Reporter, threads: int) -> None:
        reporter.start(
            total_bytes=sum(s.size for s in self.pending),
            shards=len(self.shards),
            done=len(self.shards) - len(self.pending),
            threads=threads,
            stages=[stage.name for stage in self.config.later_stages()],
        )

    def interrupted(self, reporter: Reporter) -> str:
        """Ctrl-C: staging removed (finished shards stay committed); how to resume."""
        reporter.finish()
        shutil.rmtree(self.out / "_tmp" / self.run_lock.run_id, ignore_errors=True)
        with contextlib.suppress(OSError):
            (self.out / "_tmp").rmdir()  # when no other run's staging is there
        self.release()
        # The count the rerun's "resuming: N of M already scored" will give.
        ok = {k for k, e in self.entries.items() if e["status"] == "ok"}
        scored = len(ok | set(self.scored))
        return (
            f"{scored} of {count(len(self.shards), 'shard')} scored in {self.out}; "
            "run the same command again to resume from there"
        )

    def record(self, entry: dict[str, Any], reporter: Reporter) -> None:
        """A shard's phase-1 entry: scored, or failed (then its final entry)."""
        with self.lock:
            if entry.get("status") == "failed":
                self.entries[entry["relative"]] = entry
                reporter.shard_done(entry)
            else:
                self.scored[entry["relative"]] = entry
                self.fresh.add(entry["relative"])

    def select(
        self, reporter: Reporter, threads: int, pipeline: Pipeline, source: Path | None = None
    ) -> None:
        """Phase 2 over every scored shard: the run's cutoffs, then each shard decided and
        its kept file written (skipped when its marker holds the same cutoffs). `source`:
        where the scores are, when not in this run's directory (``fastscan select``)."""
        source = source or self.out
        scored = [self.scored[s.relative] for s in self.shards if s.relative in self.scored]
        try:
            found = cutoffs(pipeline, source, scored)
        except NotMeasuredError as e:
            raise UsageError(str(e)) from None
        self.cutoffs = found
        selector = Selector(
            pipeline=pipeline,
            source=source,
            out=self.out,
            run_id=self.run_lock.run_id,
            tokenizer=load_tokenizer(self.config),
            cutoffs=found,
        )
        part = {entry["relative"]: i for i, entry in enumerate(order(scored))}
        by_name = {s.relative: s for s in self.shards}
        todo = []
        for entry in scored:
            shard = by_name[entry["relative"]]
            done = _load_marker(self.out, shard)
            if (
                done is not None
                and entry["relative"] not in self.fresh  # scored again: decided again
                and done.get("selection") == selector.fingerprint
                and done.get("input") == entry.get("input")
            ):
                self._finished(done, reporter, resumed=True)
                self.scored.pop(entry["relative"], None)
            else:
                todo.append(shard)

        def one(shard: Shard) -> None:
            entry = attempt(
                shard,
                lambda: select_shard(
                    shard, self.scored[shard.relative], part[shard.relative], selector
                ),
            )
            self._finished(entry, reporter, resumed=False)
            # Its phase-1 entry is in its marker; memory keeps one entry per shard.
            with self.lock:
                self.scored.pop(shard.relative, None)

        in_parallel(self, reporter, todo, one, min(threads, len(todo)))

    def _finished(self, entry: dict[str, Any], reporter: Reporter, resumed: bool) -> None:
        """A shard's final entry: `resumed` when an earlier invocation finished it."""
        with self.lock:
            entry["resumed"] = resumed
            entry["scanned"] = entry["relative"] in self.fresh
            self.entries[entry["relative"]] = entry
        reporter.shard_done(entry)

    def finish(
        self,
        reporter: Reporter,
        threads: int,
        executor: dict[str, Any],
        pipeline: Pipeline | None = None,
        source: Path | None = None,
    ) -> dict[str, Any]:
        """Runs phase 2, writes report.json and report.html; returns the report."""
        self.select(reporter, threads, pipeline or Pipeline(self.config), source)
        elapsed = time.perf_counter() - self.started
        shutil.rmtree(self.out / "_tmp", ignore_errors=True)
        entries = [self.entries[s.relative] for s in self.shards]
        for entry in entries:
            if entry["relative"] in self.changed:
                entry["input_changed"] = True
        report = _report(
            entries, self.ignored, self.config, threads, elapsed, scans=self.command != "select"
        )
        report["executor"] = executor
        report["totals"]["changed_inputs"] = len(self.changed)
        report["changed_inputs"] = self.changed
        report["vanished_inputs"] = self.vanished
        report["run"] = {
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "inputs": self.inputs,
            "output": str(self.out),
            "config": self.fingerprint,
            "thresholds": _thresholds(self.config),
            "cutoffs": {name: c.to_dict() for name, c in self.cutoffs.items()},
        }
        try:
            report["samples"] = collect_samples(
                entries, self.config, load_tokenizer(self.config), self.out
            )
        except (OSError, ValueError, pa.ArrowException) as e:  # the report goes on without
            report["samples"] = {"error": f"could not read samples: {e}"}
        _write_json(self.out / "report.json", report)
        write_html(self.out / "report.html", report)
        reporter.finish(report)
        return report

    def dry_run(self, overwrite: bool) -> dict[str, Any]:
        return _dry_run(
            self.shards, self.ignored, self.out, self.config, self.fingerprint, overwrite
        )


def _thresholds(cfg: FilterConfig) -> dict[str, float]:
    """Each scored stage's threshold (what the report marks on its distribution)."""
    marks = {"patterns": cfg.min_score}
    for stage, key in (
        ("dsir", "min_log_importance"),
        ("static", "min_similarity"),
        ("semantic", "min_similarity"),
    ):
        value = (getattr(cfg, stage) or {}).get(key)
        if value is not None:
            marks[stage] = value
    return marks


def _vanished(out: Path, planned: set[str]) -> list[dict[str, Any]]:
    """Markers of shards no input names any more (their outputs stay until --overwrite)."""
    done = out / "_done"
    found = []
    for marker in sorted(done.rglob("*.json")) if done.is_dir() else []:
        relative = marker.relative_to(done).as_posix().removesuffix(".json")
        if relative in planned:
            continue
        try:
            outputs = json.loads(marker.read_text(encoding="utf-8")).get("outputs")
        except (OSError, ValueError):
            outputs = None
        found.append({"relative": relative, "outputs": outputs})
    return found


def _prepare(out: Path, fingerprint: dict[str, Any], overwrite: bool, command: str) -> None:
    run_file = out / "run.json"
    previous = run_record(out)
    other = previous.get("command", command) if previous is not None else command
    if other not in FILTER_COMMANDS:
        raise UsageError(f"{out} holds a {other} run; use another output directory")
    if overwrite:
        remove_outputs(out, RUN_FILES)
    elif run_file.exists():
        previous = json.loads(run_file.read_text(encoding="utf-8"))
        if previous.get("config") != fingerprint:
            changed = sorted(
                k
                for k in set(previous.get("config", {})) | set(fingerprint)
                if previous.get("config", {}).get(k) != fingerprint.get(k)
            )
            raise UsageError(
                f"{out} holds a run with other settings ({', '.join(changed)}); "
                "use --overwrite to start over, or another output directory"
            )
    out.mkdir(parents=True, exist_ok=True)
    # A report describes a finished run: until this one finishes there is none (so
    # ``fastscan select`` can tell an unfinished run).
    for name in RUN_FILES[1:]:
        (out / name).unlink(missing_ok=True)
    _write_json(
        run_file, {"fastscan_version": __version__, "command": command, "config": fingerprint}
    )


def _load_marker(out: Path, shard: Shard) -> dict[str, Any] | None:
    """A shard's phase-2 marker, when its outputs are all there."""
    return _load(marker_path(out, shard), out, "outputs")


def _load_scored(out: Path, shard: Shard) -> dict[str, Any] | None:
    """A shard's phase-1 marker, when its scores (and rejects) are there."""
    return _load(scored_path(out, shard), out, "scored")


def _load(path: Path, out: Path, key: str) -> dict[str, Any] | None:
    try:
        entry: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    # A marker whose outputs are gone (deleted by hand) or whose scores file is cut short
    # (no Parquet footer) does not count: the shard is done again.
    outputs = entry.get(key) or {}
    files = [*outputs.get("kept", []), outputs.get("scores"), outputs.get("rejects")]
    if not all((out / f).exists() for f in files if f):
        return None
    if outputs.get("scores") and not readable_parquet(out / outputs["scores"]):
        return None
    return entry


def readable_parquet(path: Path) -> bool:
    """Whether `path` is a whole Parquet file (its footer reads)."""
    try:
        with open(path, "rb") as handle:
            pq.read_metadata(handle)
    except (OSError, pa.ArrowException):
        return False
    return True


def _report(
    entries: list[dict[str, Any]],
    ignored: list[str],
    cfg: FilterConfig,
    threads: int,
    elapsed: float,
    scans: bool = True,
) -> dict[str, Any]:
    """The run's report. `scans`: the command scores shards (``fastscan-filter``), so a
    shard it did not score now was resumed (its scores were kept from an earlier
    invocation: the count the progress and Ctrl-C give); ``fastscan select`` scores none, and
    resumes only the shards an earlier select of the same directory decided."""
    total = Tally()
    for e in entries:
        if e["status"] == "ok":
            total.merge(Tally.from_dict(e))
    pack = cfg.load_pack()
    totals: dict[str, Any] = {
        "shards": len(entries),
        "ok": sum(e["status"] == "ok" for e in entries),
        "failed": sum(e["status"] == "failed" for e in entries),
        "resumed": sum(
            e["status"] == "ok" and (bool(e.get("resumed")) or (scans and not e.get("scanned")))
            for e in entries
        ),
        "input_bytes": sum(e["input_bytes"] for e in entries),
    }
    totals.update(total.to_dict())
    # Shards this invocation read (not those it only selected again, nor resumed ones).
    fresh = [e for e in entries if e["status"] == "ok" and e.get("scanned")]
    fresh_mb = sum(e["read"]["bytes"] for e in fresh) / 1e6
    # Speeds only over what this invocation read: a resumed run's earlier shards took no time.
    timed = bool(fresh) and elapsed > 0
    totals["seconds"] = round(elapsed, 6)
    totals["mb_per_s"] = round(fresh_mb / elapsed, 3) if timed else None
    totals["mb_per_s_per_thread"] = round(fresh_mb / elapsed / threads, 3) if timed else None
    funnel = _merge_funnels(entries)
    summary = merge_summaries(
        [e["summary"] for e in entries if e["status"] == "ok" and "summary" in e]
    )
    totals["kept_group_hits"] = summary["kept_group_hits"]
    totals["kept_format_hits"] = summary["kept_format_hits"]
    timing = {
        "wall_seconds": round(elapsed, 6),
        "shards_timed": len(fresh),
        "shards_resumed": totals["resumed"],
        "stage_seconds": {f["stage"]: f["seconds"] for f in funnel},
        "meaning": "wall_seconds (= totals.seconds) is this invocation's wall time, and "
        "totals.mb_per_s the text it read over that time; stage_seconds (= the funnel's "
        "seconds) are each stage's time summed over shards, as thread-seconds, including "
        "shards finished by an earlier invocation",
    }
    return {
        "fastscan_version": __version__,
        "timing": timing,
        "funnel": funnel,
        "distributions": summary["distributions"],
        "pack": pack.name,
        "groups": pack.group_names,
        "formats": pack.format_names,
        "keep_rule": {
            "min_score": cfg.min_score,
            "require": list(cfg.require),
            "top_fraction": cfg.top_fraction,
            "top_fraction_of": cfg.top_fraction_of,
        },
        "stages": [stage.describe() for stage in cfg.later_stages()],
        "threads": threads,
        "totals": totals,
        "shards": entries,
        "ignored_files": ignored,
    }


def _merge_funnels(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The stages' funnel lines summed over the shards that finished."""
    merged: dict[str, StageFunnel] = {}
    for e in entries:
        if e["status"] != "ok":
            continue
        for line in e.get("funnel", []):
            part = StageFunnel.from_dict(line)
            if part.name in merged:
                merged[part.name].merge(part)
            else:
                merged[part.name] = part
    return [line.to_dict() for line in merged.values()]


def _dry_run(
    shards: list[Shard],
    ignored: list[str],
    out: Path,
    cfg: FilterConfig,
    fingerprint: dict[str, Any],
    overwrite: bool,
) -> dict[str, Any]:
    rows = []
    for s in shards:
        # done: finished (phase 2); scored: its scores are there, the run's decision is not
        status = "unreadable" if s.format is None else "pending"
        if not overwrite and _load_marker(out, s) is not None:
            status = "done"
        elif not overwrite and _load_scored(out, s) is not None:
            status = "scored"
        rows.append(
            {
                "path": str(s.path),
                "relative": s.relative,
                "format": s.format,
                "input_bytes": s.size,
                "status": status,
            }
        )
    pending = [r for r in rows if r["status"] == "pending"]
    by_format: dict[str, dict[str, int]] = {}
    for s in shards:
        slot = by_format.setdefault(str(s.format), {"shards": 0, "bytes": 0})
        slot["shards"] += 1
        slot["bytes"] += s.size
    return {
        "dry_run": True,
        "output": str(out),
        "config": fingerprint,
        "totals": {
            "shards": len(rows),
            "pending": len(pending),
            "done": sum(r["status"] == "done" for r in rows),
            "scored": sum(r["status"] == "scored" for r in rows),
            "unreadable": sum(r["status"] == "unreadable" for r in rows),
            "input_bytes": sum(s.size for s in shards),
            "pending_bytes": sum(
                s.size for s, r in zip(shards, rows, strict=True) if r["status"] == "pending"
            ),
            "by_format": by_format,
        },
        "shards": rows,
        "ignored_files": ignored,
    }


def _write_json(path: Path, data: dict[str, Any]) -> None:
    """Written as it is encoded (a report of 100,000 shards is never one string)."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=1)
        handle.write("\n")
    os.replace(tmp, path)
