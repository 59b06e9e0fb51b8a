"""`filter_shards`: plan, resume, run every shard (in parallel), write the report."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from fastscan import __version__, _fastscan
from fastscan.filter.config import FilterConfig
from fastscan.filter.plan import Shard, plan
from fastscan.filter.progress import Reporter
from fastscan.filter.report import write_html
from fastscan.filter.shard import Context, ShardError, marker_path, run_shard, shard_entry
from fastscan.filter.tally import Tally
from fastscan.scanner import Scanner

# What a run owns inside OUT: removed by --overwrite, nothing else is touched.
OWNED = ("kept", "scores", "rejects", "_done", "_tmp", "run.json", "report.json", "report.html")


class UsageError(ValueError):
    """A run that cannot start: bad inputs, an output directory from another config."""


def filter_shards(
    inputs: Sequence[str | os.PathLike[str]] | str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    config: FilterConfig | str | os.PathLike[str] | None = None,
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
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    if isinstance(config, FilterConfig):
        cfg = config
    elif config is None:
        cfg = FilterConfig()
    else:
        cfg = FilterConfig.from_toml(config)
    cfg = cfg.with_overrides(**settings)
    reporter = reporter or Reporter(quiet=True)
    try:
        shards, ignored = plan(list(inputs))
    except ValueError as e:
        raise UsageError(str(e)) from e
    out = Path(output)
    groups = cfg.load_pack().group_names
    unknown = [g for g in cfg.require if g not in groups]
    if unknown:
        raise UsageError(
            f"required group(s) {', '.join(unknown)} not in the pack (groups: {', '.join(groups)})"
        )
    fingerprint = cfg.fingerprint()
    if dry_run:
        return _dry_run(shards, ignored, out, cfg, fingerprint, overwrite)
    _prepare(out, fingerprint, overwrite)
    scanner = Scanner(cfg.load_pack(), threads)
    tokenizer = (
        _fastscan.Tokenizer(Path(cfg.tokenizer).read_text(encoding="utf-8"))
        if cfg.tokenizer
        else None
    )
    ctx = Context(config=cfg, scanner=scanner, out=out, tokenizer=tokenizer)
    started = time.perf_counter()
    entries: dict[str, dict[str, Any]] = {}
    pending: list[Shard] = []
    for shard in shards:
        done = _load_marker(out, shard)
        if done is not None:
            done["resumed"] = True
            entries[shard.relative] = done
        else:
            pending.append(shard)
    reporter.start(
        total_bytes=sum(s.size for s in pending),
        shards=len(shards),
        done=len(shards) - len(pending),
        threads=scanner.threads,
    )
    lock = threading.Lock()

    def one(shard: Shard) -> None:
        began = time.perf_counter()
        try:
            entry = run_shard(shard, ctx, reporter.advance)
        except (ShardError, OSError, ValueError) as e:
            entry = shard_entry(shard, Tally(), time.perf_counter() - began)
            entry.update(status="failed", error=str(e), outputs=None)
        with lock:
            entries[shard.relative] = entry
        reporter.shard_done(entry)

    workers = max(1, min(scanner.threads, len(pending)))
    if workers == 1:
        for shard in pending:
            one(shard)
    else:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fastscan-shard") as pool:
            list(pool.map(one, pending))
    elapsed = time.perf_counter() - started
    shutil.rmtree(out / "_tmp", ignore_errors=True)
    report = _report([entries[s.relative] for s in shards], ignored, cfg, scanner, elapsed)
    _write_json(out / "report.json", report)
    write_html(out / "report.html", report)
    reporter.finish(report)
    return report


def _prepare(out: Path, fingerprint: dict[str, Any], overwrite: bool) -> None:
    run_file = out / "run.json"
    if overwrite:
        for name in OWNED:
            target = out / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
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
    _write_json(run_file, {"fastscan_version": __version__, "config": fingerprint})


def _load_marker(out: Path, shard: Shard) -> dict[str, Any] | None:
    path = marker_path(out, shard)
    try:
        entry: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    # A marker whose outputs are gone (deleted by hand) does not count.
    outputs = entry.get("outputs") or {}
    files = [*outputs.get("kept", []), outputs.get("scores"), outputs.get("rejects")]
    if all((out / f).exists() for f in files if f):
        return entry
    return None


def _report(
    entries: list[dict[str, Any]],
    ignored: list[str],
    cfg: FilterConfig,
    scanner: Scanner,
    elapsed: float,
) -> dict[str, Any]:
    total = Tally()
    for e in entries:
        if e["status"] == "ok":
            total.merge(Tally.from_dict(e))
    totals: dict[str, Any] = {
        "shards": len(entries),
        "ok": sum(e["status"] == "ok" for e in entries),
        "failed": sum(e["status"] == "failed" for e in entries),
        "resumed": sum(bool(e.get("resumed")) for e in entries),
        "input_bytes": sum(e["input_bytes"] for e in entries),
    }
    totals.update(total.to_dict())
    fresh = [e for e in entries if e["status"] == "ok" and not e.get("resumed")]
    fresh_mb = sum(e["read"]["bytes"] for e in fresh) / 1e6
    totals["seconds"] = round(elapsed, 6)
    totals["mb_per_s"] = round(fresh_mb / elapsed, 3) if elapsed > 0 else None
    totals["mb_per_s_per_thread"] = (
        round(fresh_mb / elapsed / scanner.threads, 3) if elapsed > 0 else None
    )
    return {
        "fastscan_version": __version__,
        "pack": scanner.pack.name,
        "groups": scanner.group_names,
        "formats": scanner.pack.format_names,
        "keep_rule": {"min_score": cfg.min_score, "require": list(cfg.require)},
        "threads": scanner.threads,
        "totals": totals,
        "shards": entries,
        "ignored_files": ignored,
    }


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
        done = not overwrite and _load_marker(out, s) is not None
        rows.append(
            {
                "path": str(s.path),
                "relative": s.relative,
                "format": s.format,
                "input_bytes": s.size,
                "status": "done" if done else ("unreadable" if s.format is None else "pending"),
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
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)
