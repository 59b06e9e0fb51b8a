"""The output directory's safety: one run at a time, removing only what fastscan wrote,
knowing when an input changed, and never writing outside OUT.

* `RunLock`: ``OUT/_lock`` holds the pid, host and start time of the run that owns OUT. A
  second run fails with a clear error; a lock whose process is gone (same host, pid not
  alive) is stale and taken over.
* `remove_outputs`: what ``--overwrite`` deletes: the files the completion markers list, the
  markers, staging, ``run.json`` and the reports, then the directories this left empty.
  Anything else in OUT (a user's file in ``kept/``) stays.
* `input_identity`: size, mtime and a hash of the first and last MiB of an input; a marker
  whose input no longer matches is redone (reported as changed).
* `inside`: the check every output path passes before anything is written.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import socket
import time
import uuid
from pathlib import Path
from typing import Any

LOCK = "_lock"
EDGE = 1 << 20  # bytes hashed at each end of an input


class LockedError(RuntimeError):
    """OUT is in use by another run."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


class RunLock:
    """Held for a whole run; `run_id` names this run's staging directory."""

    def __init__(self, out: Path) -> None:
        self.path = out / LOCK
        self.run_id = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.held = False

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        me = {"pid": os.getpid(), "host": socket.gethostname(), "run": self.run_id,
              "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}  # fmt: skip
        # The lock appears with its content in one step (written aside, then hard-linked: a
        # link fails if the name exists), so no run ever reads a half-written lock.
        draft = self.path.with_name(f".{LOCK}.{self.run_id}")
        draft.write_text(json.dumps(me), encoding="utf-8")
        try:
            for _ in range(3):
                try:
                    os.link(draft, self.path)
                except FileExistsError:
                    holder = self._holder()
                    if holder is None or not self._stale(holder):
                        holder = holder or {}
                        raise LockedError(
                            f"{self.path.parent} is in use by another fastscan run (pid "
                            f"{holder.get('pid')} on {holder.get('host')}, since "
                            f"{holder.get('started')}); wait for it, or use another output "
                            f"directory (if that run is gone, remove {self.path})"
                        ) from None
                    self._take_over(holder)
                    continue
                self.held = True
                return
        finally:
            draft.unlink(missing_ok=True)
        raise LockedError(f"could not take {self.path}: another run keeps taking it")

    def _take_over(self, stale: dict[str, Any]) -> None:
        """Removes a stale lock, unless another run replaced it in the meantime."""
        moved = self.path.with_name(f".{LOCK}.stale.{self.run_id}")
        try:
            os.rename(self.path, moved)
        except FileNotFoundError:
            return
        try:
            current = json.loads(moved.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            current = None
        if current != stale:  # a live run's fresh lock: put it back
            with contextlib.suppress(OSError):
                os.link(moved, self.path)
        moved.unlink(missing_ok=True)

    def holder(self) -> dict[str, Any] | None:
        """What the lock says of the run that holds it (None when no lock is there)."""
        return self._holder()

    @staticmethod
    def live(holder: dict[str, Any]) -> bool:
        """Whether the run that took a lock may still be running."""
        return not RunLock._stale(holder)

    def _holder(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    @staticmethod
    def _stale(holder: dict[str, Any]) -> bool:
        pid = holder.get("pid")
        if holder.get("host") != socket.gethostname() or not isinstance(pid, int):
            return False  # another machine's run: only its owner can tell
        return not _alive(pid)

    def release(self) -> None:
        if self.held:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            self.held = False


# Where a run keeps its markers: phase 1's (scored shards), phase 2's (finished shards).
MARKER_DIRS = ("_scored", "_done")


def remove_outputs(out: Path, owned_files: tuple[str, ...]) -> list[str]:
    """Deletes what fastscan's markers say it wrote (and the markers, staging, run files);
    returns what it removed, relative to OUT. Nothing happens without a ``run.json``."""
    if not (out / "run.json").is_file():
        return []
    removed: list[str] = []
    markers = [
        marker
        for name in MARKER_DIRS
        if (out / name).is_dir()
        for marker in sorted((out / name).rglob("*.json"))
    ]
    for marker in markers:
        try:
            entry = json.loads(marker.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            entry = {}
        outputs = entry.get("outputs") or entry.get("scored") or {}
        files = [*(outputs.get("kept") or []), outputs.get("scores"), outputs.get("rejects")]
        for rel in files:
            if not rel:
                continue
            target = out / rel
            if inside(out, target) and target.is_file():
                target.unlink()
                removed.append(rel)
                prune(target.parent, out)
        marker.unlink()
        removed.append(marker.relative_to(out).as_posix())
        prune(marker.parent, out)
    shutil.rmtree(out / "_tmp", ignore_errors=True)
    for name in owned_files:
        target = out / name
        if target.is_file():
            target.unlink()
            removed.append(name)
    return removed


def prune(directory: Path, out: Path) -> None:
    """Removes `directory` and its parents up to OUT while they are empty."""
    while directory != out and inside(out, directory):
        try:
            directory.rmdir()
        except OSError as e:
            if e.errno in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOENT):
                return
            raise
        directory = directory.parent


def input_identity(path: Path) -> dict[str, Any]:
    """What a marker remembers of its input: size, mtime and a hash of both ends."""
    st = path.stat()
    digest = hashlib.sha256()
    with path.open("rb") as f:
        digest.update(f.read(EDGE))
        if st.st_size > EDGE:
            f.seek(max(st.st_size - EDGE, EDGE))
            digest.update(f.read(EDGE))
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "edges_sha256": digest.hexdigest()}


def same_input(entry: dict[str, Any], path: Path) -> bool:
    """Whether a marker's input (`entry["input"]`) is still the file at `path`."""
    recorded = entry.get("input")
    if recorded is None:  # a marker from before identities were kept: size only
        try:
            return bool(entry.get("input_bytes") == path.stat().st_size)
        except OSError:
            return False
    try:
        st = path.stat()
        if (st.st_size, st.st_mtime_ns) != (recorded.get("size"), recorded.get("mtime_ns")):
            return False  # changed, known without reading it
        return bool(input_identity(path) == recorded)
    except OSError:
        return False


def inside(out: Path, target: Path) -> bool:
    """Whether `target` (after normalising ``..``) lies inside `out`."""
    root = os.path.normpath(os.path.abspath(out))
    path = os.path.normpath(os.path.abspath(target))
    return path == root or path.startswith(root + os.sep)
