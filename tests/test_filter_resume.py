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
from fastscan.ngrams import NgramModel
from shards import jsonl_bytes, many_records, sample_records, tree_bytes, write_jsonl

CLI = [sys.executable, "-m", "fastscan.filter.cli"]


def make_shards(root: Path, shards: int, records: int) -> None:
    base = many_records(records * shards)
    for i in range(shards):
        part = base[i * records : (i + 1) * records]
        write_jsonl(root / f"s{i:02d}.jsonl.zst", jsonl_bytes(part))


def cascade_config(root: Path, stages: str | None) -> list[str]:
    """`--config` arguments: a later stage that decides as the scan goes (`stats`: the scan
    writes the kept records once the stage has decided), or a ranking over the whole run
    (`ranked`: phase 2 writes them); none for the keep rule alone."""
    if stages is None:
        return []
    root.mkdir(parents=True, exist_ok=True)
    if stages == "stats":
        text = "[stats]\nmin = { words = 20 }\n"
    else:
        texts = [r["text"] for r in sample_records()]
        NgramModel.fit(texts[:10], texts, buckets=1024).save(root / "model.parquet")
        text = f'[dsir]\nmodel = "{root / "model.parquet"}"\ntop_fraction = 0.5\n'
    (root / "cascade.toml").write_text(text)
    return ["--config", str(root / "cascade.toml")]


@pytest.mark.parametrize(
    ("phase", "stages"),
    [("_scored", None), ("_done", None), ("_scored", "stats"), ("_done", "ranked")],
)
def test_sigkill_mid_run_then_resume_is_byte_identical(
    tmp_path: Path, phase: str, stages: str | None
) -> None:
    """Killed while scoring (phase 1: some shards scored, none selected) or while writing
    the kept files (phase 2: some shards finished), the rerun ends as an uninterrupted run;
    with the kept records written by the scan (as the keep rule or a later stage decides)
    or by phase 2 (a ranking over the run)."""
    make_shards(tmp_path / "in", shards=8, records=4000)
    config = cascade_config(tmp_path / "config", stages)
    ref = tmp_path / "ref"
    args = ["--threads", "1", *config]
    done = subprocess.run([*CLI, str(tmp_path / "in"), "-o", str(ref), *args, "-q"])
    assert done.returncode == 0

    out = tmp_path / "out"
    proc = subprocess.Popen([*CLI, str(tmp_path / "in"), "-o", str(out), *args, "-q"])
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
        [*CLI, str(tmp_path / "in"), "-o", str(out), *args, "--json"],
        capture_output=True,
        text=True,
    )
    assert rerun.returncode == 0, rerun.stderr
    report = json.loads(rerun.stdout)
    # Resumed: the shards the killed run had scored (what "resuming: N of 8 already scored"
    # and the Ctrl-C message count), whether or not it had decided them.
    assert report["totals"]["resumed"] == scored
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
