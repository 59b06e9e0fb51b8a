"""`Reporter`: a progress bar on a terminal, plain log lines otherwise, nothing when quiet."""

from __future__ import annotations

import sys
import threading
from typing import Any, TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)


class Reporter:
    """Receives progress from the shards (from several threads) and shows it.

    Args:
        quiet: show nothing.
        stream: where to show it (default stderr).
        bar: a live bar (default: when `stream` is a terminal); otherwise one log line per
            finished shard.
    """

    def __init__(
        self, quiet: bool = False, stream: TextIO | None = None, bar: bool | None = None
    ) -> None:
        self.quiet = quiet
        self.stream = stream or sys.stderr
        self.bar = (not quiet) and (self.stream.isatty() if bar is None else bar)
        self.lock = threading.Lock()
        self.docs = 0
        self.finished = 0
        self.shards = 0
        self.progress: Progress | None = None
        self.task: TaskID | None = None

    def start(self, total_bytes: int, shards: int, done: int, threads: int) -> None:
        self.shards = shards
        self.finished = done
        if self.quiet:
            return
        if done:
            self._log(f"resuming: {done} of {shards} shards already done")
        if self.bar:
            self.progress = Progress(
                TextColumn("[bold]fastscan-filter"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TextColumn("{task.fields[docs]:,} docs  {task.fields[shards]}"),
                TimeRemainingColumn(),
                console=Console(file=self.stream),
                transient=True,
            )
            self.task = self.progress.add_task(
                "filter", total=total_bytes, docs=0, shards=self._shards_text()
            )
            self.progress.start()
        else:
            todo = shards - done
            self._log(f"{todo} shards to filter ({total_bytes:,} bytes), {threads} threads")

    def _shards_text(self) -> str:
        return f"{self.finished}/{self.shards} shards"

    def advance(self, nbytes: int, docs: int) -> None:
        """Called by shards as they go."""
        with self.lock:
            self.docs += docs
            if self.progress is not None and self.task is not None:
                self.progress.update(self.task, advance=nbytes, docs=self.docs)

    def shard_done(self, entry: dict[str, Any]) -> None:
        with self.lock:
            self.finished += 1
            if self.progress is not None and self.task is not None:
                self.progress.update(self.task, shards=self._shards_text())
        if self.quiet:
            return
        if entry["status"] != "ok":
            message = f"FAILED {entry['relative']}: {entry['error']}"
            if self.progress is not None:
                self.progress.console.print(message)
            else:
                self._log(message)
        elif self.progress is None:
            self._log(
                f"[{self.finished}/{self.shards}] {entry['relative']}: "
                f"{entry['read']['docs']:,} read, {entry['kept']['docs']:,} kept, "
                f"{entry['rejected']['docs']:,} rejected, {entry['mb_per_s'] or 0:.1f} MB/s"
            )

    def finish(self, report: dict[str, Any]) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None

    def _log(self, message: str) -> None:
        print(f"fastscan-filter: {message}", file=self.stream, flush=True)
