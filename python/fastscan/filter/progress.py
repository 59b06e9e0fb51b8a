"""`Reporter`: what a run shows while it works (a live display on a terminal, log lines
otherwise, nothing when quiet), and where running shards learn that the run was interrupted.

One line per stage: stage 1 (patterns) in documents and text bytes (the bytes the summary
counts), with its bar following the input files read; each later stage in documents; a stage
that is setting up (loading a model, embedding the gold set) says so.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any, TextIO

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from fastscan.terminal import Interrupted, count


class Silent:
    """A shard's watcher when nobody watches (Ray tasks): hears everything, shows nothing."""

    def advance(self, input_bytes: int, docs: int, text_bytes: int) -> None:
        """Stage 1 read `input_bytes` more of the input: `docs` records, `text_bytes`."""

    def stage_status(self, stage: str, message: str) -> None:
        """A later stage is busy with `message` (empty: no longer)."""

    def stage_advance(self, stage: str, docs: int) -> None:
        """A later stage finished `docs` more documents."""


def _mb(n: float) -> str:
    return f"{n / 1e6:,.1f} MB"


class Reporter(Silent):
    """Receives progress from the shards (from several threads) and shows it.

    Args:
        quiet: show nothing.
        stream: where to show it (default stderr).
        bar: a live display (default: when `stream` is a terminal); otherwise log lines, and
            one every `LOG_EVERY` seconds while nothing else is said (a model loading).
        prog: the command whose progress it is (``fastscan-filter``, ``fastscan select``).

    Counts agree everywhere: ``finished`` counts shards the run has finished or failed in
    this invocation and before (a resumed shard once, when it is decided again or found
    done), so it ends at the number of shards.
    """

    LOG_EVERY = 5.0

    def __init__(
        self,
        quiet: bool = False,
        stream: TextIO | None = None,
        bar: bool | None = None,
        prog: str = "fastscan-filter",
    ) -> None:
        self.prog = prog
        self.quiet = quiet
        self.stream = stream or sys.stderr
        self.bar = (not quiet) and (self.stream.isatty() if bar is None else bar)
        self.lock = threading.Lock()
        self.cancelled = threading.Event()
        self.docs = 0
        self.text_bytes = 0
        self.finished = 0
        self.shards = 0
        self.began = time.perf_counter()
        self.stage_docs: dict[str, int] = {}
        self.statuses: dict[str, str] = {}
        self.logged: set[tuple[str, str]] = set()
        self.progress: Progress | None = None
        self.tasks: dict[str, TaskID] = {}
        self.last_log = time.perf_counter()
        self.ticker: threading.Thread | None = None
        self.stopped = threading.Event()

    def start(
        self, total_bytes: int, shards: int, done: int, threads: int, stages: list[str]
    ) -> None:
        """The run begins: `total_bytes` of input in `shards - done` shards to do."""
        self.shards = shards
        self.finished = 0
        self.began = time.perf_counter()
        self.stage_docs = dict.fromkeys(stages, 0)
        if self.quiet:
            return
        selecting = self.prog == "fastscan select"
        if done and not selecting:
            self._log(f"resuming: {done} of {count(shards, 'shard')} already scored")
        if self.bar:
            self.progress = Progress(
                TextColumn("{task.description:<10}"),
                BarColumn(),
                TextColumn("{task.fields[info]}"),
                TimeElapsedColumn(),
                # Asked for a live display, it draws one (a terminal, or a test that reads
                # the escape sequences).
                console=Console(file=self.stream, force_terminal=True),
                transient=True,
            )
            self.tasks["patterns"] = self.progress.add_task(
                "patterns", total=max(total_bytes, 1), info=self._patterns_info()
            )
            for stage in stages:
                self.tasks[stage] = self.progress.add_task(stage, total=None, info="waiting")
            self.progress.start()
        else:
            todo = shards - done
            later = f"; then {', '.join(stages)}" if stages else ""
            if selecting:
                self._log(f"deciding {count(shards, 'shard')} from the run's scores")
            else:
                self._log(
                    f"{count(todo, 'shard')} to score ({total_bytes:,} bytes of input), "
                    f"{threads} threads{later}"
                )
            self.ticker = threading.Thread(target=self._tick, name="fastscan-log", daemon=True)
            self.ticker.start()

    def _tick(self) -> None:
        """Without a live display: a line every `LOG_EVERY` seconds of silence."""
        while not self.stopped.wait(self.LOG_EVERY / 5):
            if time.perf_counter() - self.last_log < self.LOG_EVERY:
                continue
            with self.lock:
                busy = [f"{stage}: {status}" for stage, status in self.statuses.items() if status]
                parts = [
                    f"{self.docs:,} docs, {_mb(self.text_bytes)} of text scanned",
                    f"{self.finished}/{count(self.shards, 'shard')} finished",
                    *busy,
                ]
            self._log("; ".join(parts))

    def _patterns_info(self) -> str:
        seconds = max(time.perf_counter() - self.began, 1e-9)
        return (
            f"{self.docs:,} docs  {_mb(self.text_bytes)} text  "
            f"{self.text_bytes / 1e6 / seconds:,.1f} MB/s  "
            f"{self.finished}/{self.shards} shards"
        )

    def _stage_info(self, stage: str) -> str:
        status = self.statuses.get(stage)
        if status:
            return status
        seconds = max(time.perf_counter() - self.began, 1e-9)
        docs = self.stage_docs.get(stage, 0)
        return f"{docs:,} docs  {docs / seconds:,.1f} docs/s"

    def _check(self) -> None:
        if self.cancelled.is_set():
            raise Interrupted("stopped at the user's request")

    def advance(self, input_bytes: int, docs: int, text_bytes: int) -> None:
        self._check()
        with self.lock:
            self.docs += docs
            self.text_bytes += text_bytes
            if self.progress is not None:
                self.progress.update(
                    self.tasks["patterns"], advance=input_bytes, info=self._patterns_info()
                )

    def stage_status(self, stage: str, message: str) -> None:
        self._check()
        with self.lock:
            self.statuses[stage] = message
            if self.progress is not None and stage in self.tasks:
                self.progress.update(self.tasks[stage], info=self._stage_info(stage))
            shown = (stage, message) in self.logged
            self.logged.add((stage, message))
        if message and not shown and self.progress is None and not self.quiet:
            self._log(f"{stage}: {message}")

    def stage_advance(self, stage: str, docs: int) -> None:
        self._check()
        with self.lock:
            self.stage_docs[stage] = self.stage_docs.get(stage, 0) + docs
            if self.progress is not None and stage in self.tasks:
                self.progress.update(self.tasks[stage], advance=docs, info=self._stage_info(stage))

    def shard_done(self, entry: dict[str, Any]) -> None:
        with self.lock:
            self.finished += 1
            if self.progress is not None:
                self.progress.update(self.tasks["patterns"], info=self._patterns_info())
        if self.quiet:
            return
        if entry["status"] != "ok":
            message = f"FAILED {entry['relative']}: {entry['error']}"
            if self.progress is not None:
                self.progress.console.print(message)
            else:
                self._log(message)
        elif self.progress is None:
            # A speed only for a shard scanned now, over enough time to mean something.
            timed = entry.get("scanned") and (entry.get("seconds") or 0) >= 1.0
            speed = f", {entry['mb_per_s']:.1f} MB/s" if timed and entry["mb_per_s"] else ""
            how = " (resumed)" if entry.get("resumed") else ""
            self._log(
                f"[{self.finished}/{self.shards}] {entry['relative']}{how}: "
                f"{entry['read']['docs']:,} read, {entry['kept']['docs']:,} kept, "
                f"{entry['rejected']['docs']:,} rejected{speed}"
            )

    def cancel(self) -> None:
        """Ctrl-C: running shards stop at their next block or batch."""
        self.cancelled.set()

    def finish(self, report: dict[str, Any] | None = None) -> None:
        self.stopped.set()
        if self.progress is not None:
            self.progress.stop()
            self.progress = None

    def _log(self, message: str) -> None:
        self.last_log = time.perf_counter()
        print(f"{self.prog}: {message}", file=self.stream, flush=True)
