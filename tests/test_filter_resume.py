"""Crash safety: a SIGKILLed run resumes to outputs byte-identical to an uninterrupted run."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

import fastscan
from fastscan.filter import UsageError
from shards import jsonl_bytes, many_records, tree_bytes, write_jsonl

CLI = [sys.executable, "-m", "fastscan.filter.cli"]


def make_shards(root: Path, shards: int, records: int) -> None:
    base = many_records(records * shards)
    for i in range(shards):
        part = base[i * records : (i + 1) * records]
        write_jsonl(root / f"s{i:02d}.jsonl.zst", jsonl_bytes(part))


@pytest.mark.parametrize("phase", ["_scored", "_done"])
def test_sigkill_mid_run_then_resume_is_byte_identical(tmp_path: Path, phase: str) -> None:
    """Killed while scoring (phase 1: some shards scored, none selected) or while writing
    the kept files (phase 2: some shards finished), the rerun ends as an uninterrupted run."""
    make_shards(tmp_path / "in", shards=8, records=4000)
    ref = tmp_path / "ref"
    done = subprocess.run([*CLI, str(tmp_path / "in"), "-o", str(ref), "--threads", "1", "-q"])
    assert done.returncode == 0

    out = tmp_path / "out"
    proc = subprocess.Popen([*CLI, str(tmp_path / "in"), "-o", str(out), "--threads", "1", "-q"])
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if len(list((out / phase).glob("*.json"))) >= 2:
            break
        time.sleep(0.001)
    proc.kill()
    proc.wait()
    scored = len(list((out / "_scored").glob("*.json")))
    finished = len(list((out / "_done").glob("*.json")))
    assert proc.returncode == -9, "the run ended before it could be killed: make the input larger"
    if phase == "_scored":
        assert 1 <= scored < 8
        assert finished == 0
    else:
        assert scored == 8
        assert 1 <= finished < 8
    assert not (out / "report.json").exists()

    rerun = subprocess.run(
        [*CLI, str(tmp_path / "in"), "-o", str(out), "--threads", "1", "--json"],
        capture_output=True,
        text=True,
    )
    assert rerun.returncode == 0, rerun.stderr
    report = json.loads(rerun.stdout)
    assert report["totals"]["resumed"] == finished
    assert report["totals"]["read"]["docs"] == 32000
    assert tree_bytes(out) == tree_bytes(ref)
    assert not (out / "_tmp").exists()


def test_same_input_same_bytes_and_resume_skips(tmp_path: Path) -> None:
    make_shards(tmp_path / "in", shards=3, records=300)
    a = fastscan.filter_shards(tmp_path / "in", tmp_path / "a", threads=2)
    b = fastscan.filter_shards(tmp_path / "in", tmp_path / "b", threads=1)
    assert tree_bytes(tmp_path / "a") == tree_bytes(tmp_path / "b")
    assert a["totals"]["read"] == b["totals"]["read"]
    again = fastscan.filter_shards(tmp_path / "in", tmp_path / "a", threads=2)
    assert again["totals"]["resumed"] == 3
    assert again["totals"]["kept"] == a["totals"]["kept"]
    # A completed shard whose outputs were deleted is redone.
    (tmp_path / "a/kept/s01.jsonl.zst").unlink()
    again = fastscan.filter_shards(tmp_path / "in", tmp_path / "a")
    assert again["totals"]["resumed"] == 2
    assert tree_bytes(tmp_path / "a") == tree_bytes(tmp_path / "b")


def test_other_settings_need_overwrite(tmp_path: Path) -> None:
    make_shards(tmp_path / "in", shards=1, records=50)
    first = fastscan.filter_shards(tmp_path / "in", tmp_path / "out")
    with pytest.raises(UsageError, match="min_score"):
        fastscan.filter_shards(tmp_path / "in", tmp_path / "out", min_score=9.0)
    (tmp_path / "out" / "mine.txt").write_text("not fastscan's")
    redo = fastscan.filter_shards(tmp_path / "in", tmp_path / "out", min_score=9.0, overwrite=True)
    assert redo["totals"]["resumed"] == 0
    assert redo["totals"]["kept"]["docs"] < first["totals"]["kept"]["docs"]
    assert (tmp_path / "out" / "mine.txt").exists()


def test_stale_staging_is_replaced(tmp_path: Path) -> None:
    make_shards(tmp_path / "in", shards=1, records=50)
    stale = tmp_path / "out/_tmp/s00.jsonl.zst/kept"
    stale.mkdir(parents=True)
    (stale / "part").write_bytes(b"half-written")
    fastscan.filter_shards(tmp_path / "in", tmp_path / "out")
    fastscan.filter_shards(tmp_path / "in", tmp_path / "ref")
    assert tree_bytes(tmp_path / "out") == tree_bytes(tmp_path / "ref")
    shutil.rmtree(tmp_path / "ref")
