"""Bad input never crashes a run or disappears: record problems are counted, written-out
rejects; shard problems are reported while the other shards finish."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import fastscan
from fastscan.filter.run import UsageError
from requires import unavailable
from shards import jsonl_bytes, sample_records, write_jsonl
from test_filter import check_accounting

GOOD = {"text": "curl -X POST https://api.example.com/v1/items -H 'Content-Type: application/json'"}


def test_record_level_problems_become_counted_rejects(tmp_path: Path) -> None:
    lines = [
        json.dumps(GOOD).encode(),
        b"this is not json",
        b'{"text": 5}',
        b'{"body": "no text field"}',
        b'{"text": "bad \xff byte"}',
        b'{"text": "ok"} trailing',
        b"   ",
        b'["text"]',
        b'{"text": null}',
        json.dumps({"text": "plain prose"}).encode(),
    ]
    write_jsonl(tmp_path / "in/mixed.jsonl", b"\n".join(lines) + b"\n")
    report = fastscan.filter_shards(tmp_path / "in", tmp_path / "out")
    check_accounting(report)
    t = report["totals"]
    assert t["read"]["docs"] == 9
    assert t["blank_lines"] == 1
    assert t["rejected"]["docs"] == 7
    assert t["reject_reasons"] == {
        "invalid_json": 2,
        "invalid_utf8": 1,
        "missing_field": 2,
        "not_a_string": 2,
    }
    rejects = [
        json.loads(x) for x in (tmp_path / "out/rejects/mixed.jsonl.jsonl").read_text().splitlines()
    ]
    # Rows count records; the blank line is not one.
    assert [r["row"] for r in rejects] == [1, 2, 3, 4, 5, 6, 7]
    by_row = {r["row"]: r for r in rejects}
    assert by_row[1]["line"] == "this is not json"
    assert base64.b64decode(by_row[4]["line_base64"]) == lines[4]
    data = (tmp_path / "in/mixed.jsonl").read_bytes()
    for r in rejects:
        assert data[r["offset"] : r["offset"] + r["length"]].rstrip(b"\n") in (
            r.get("line", "").encode(),
            base64.b64decode(r.get("line_base64", "")),
        )


def test_shard_level_problems_are_reported_and_others_finish(tmp_path: Path) -> None:
    data = jsonl_bytes(sample_records())
    root = tmp_path / "in"
    write_jsonl(root / "good.jsonl.zst", data)
    (root / "empty.jsonl").write_bytes(b"")
    whole_gz = write_jsonl(tmp_path / "x.jsonl.gz", data * 20).read_bytes()
    (root / "trunc.jsonl.gz").write_bytes(whole_gz[: len(whole_gz) // 2])
    whole_zst = write_jsonl(tmp_path / "x.jsonl.zst", data * 20).read_bytes()
    (root / "trunc.jsonl.zst").write_bytes(whole_zst[: len(whole_zst) // 2])
    (root / "broken.parquet").write_bytes(b"PAR1 not really")
    (root / "notes.txt").write_text("not a shard")
    os.symlink(tmp_path / "nowhere.jsonl", root / "dangling.jsonl")
    # Named directly, a file of a type fastscan does not read is a usage error, before
    # anything is written; matched by a glob, it fails alone.
    with pytest.raises(UsageError, match="not a file fastscan reads"):
        fastscan.filter_shards([root, root / "notes.txt"], tmp_path / "out")
    assert not (tmp_path / "out").exists()
    inputs: list[str | Path] = [root, str(root / "*.txt")]
    report = fastscan.filter_shards(inputs, tmp_path / "out")
    status = {e["relative"]: (e["status"], e["error"]) for e in report["shards"]}
    assert status["good.jsonl.zst"] == ("ok", None)
    assert status["empty.jsonl"] == ("ok", None)
    for name in (
        "trunc.jsonl.gz",
        "trunc.jsonl.zst",
        "broken.parquet",
        "notes.txt",
        "dangling.jsonl",
    ):
        assert status[name][0] == "failed", name
        assert status[name][1], name
    assert "unknown file type" in status["notes.txt"][1]
    assert report["totals"]["failed"] == 5
    assert report["totals"]["ok"] == 2
    check_accounting(report)
    assert report["totals"]["read"]["docs"] == 16
    # Failed shards leave no outputs and no completion marker; the run leaves no staging.
    assert not (tmp_path / "out/kept/trunc.jsonl.gz").exists()
    assert not (tmp_path / "out/_done/trunc.jsonl.gz.json").exists()
    assert not (tmp_path / "out/_tmp").exists()
    assert str(root / "notes.txt") not in report["ignored_files"]


def test_unreadable_file(tmp_path: Path) -> None:
    """A file the run may not read fails its shard with the OS's reason. Root reads files
    whatever their mode, so as root (CI) the run is made as `nobody` (setpriv)."""
    if os.geteuid() != 0:
        path = write_jsonl(tmp_path / "in/locked.jsonl", jsonl_bytes(sample_records()))
        path.chmod(0)
        try:
            report = fastscan.filter_shards(tmp_path / "in", tmp_path / "out")
        finally:
            path.chmod(0o644)
    else:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            unavailable(
                "running as root without setpriv (util-linux) to become nobody",
                "FASTSCAN_REQUIRE_SETPRIV",
            )
        base = Path(tempfile.mkdtemp(prefix="fastscan-unreadable-"))  # not under pytest's 0700
        try:
            base.chmod(0o755)
            path = write_jsonl(base / "in/locked.jsonl", jsonl_bytes(sample_records()))
            path.chmod(0)
            (base / "out").mkdir(mode=0o777)
            (base / "out").chmod(0o777)
            done = subprocess.run(
                [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable,
                 "-m", "fastscan.filter.cli", str(base / "in"), "-o", str(base / "out"), "--json"],
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            assert done.returncode == 1, done.stderr
            report = json.loads(done.stdout)
        finally:
            shutil.rmtree(base, ignore_errors=True)
    assert report["shards"][0]["status"] == "failed"
    assert "Permission denied" in report["shards"][0]["error"]


def test_a_100_mb_line_is_rejected_not_loaded(tmp_path: Path) -> None:
    path = tmp_path / "in/huge.jsonl"
    path.parent.mkdir()
    with path.open("wb") as f:
        f.write(json.dumps(GOOD).encode() + b"\n")
        f.write(b'{"text": "' + b"x" * (100 << 20) + b'"}\n')
        f.write(json.dumps(GOOD).encode() + b"\n")
    report = fastscan.filter_shards(tmp_path / "in", tmp_path / "out", threads=1)
    check_accounting(report)
    t = report["totals"]
    assert (t["read"]["docs"], t["kept"]["docs"], t["rejected"]["docs"]) == (3, 2, 1)
    assert t["reject_reasons"] == {"record_too_large": 1}
    assert t["read"]["bytes"] == path.stat().st_size
    (reject,) = [
        json.loads(x) for x in (tmp_path / "out/rejects/huge.jsonl.jsonl").read_text().splitlines()
    ]
    assert reject["truncated"] is True
    assert reject["length"] == (100 << 20) + 13
    assert reject["line"].startswith('{"text": "xxx')
    assert len(reject["line"]) == 4096
    # With a larger limit the same line is read and scored.
    report = fastscan.filter_shards(
        tmp_path / "in", tmp_path / "out2", max_record_mb=128, min_score=0.0
    )
    assert report["totals"]["kept"]["docs"] == 3


def test_a_parquet_text_column_that_is_not_text_fails_the_shard(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    (tmp_path / "in").mkdir()
    pq.write_table(pa.table({"text": [1, 2, 3]}), tmp_path / "in/ints.parquet")
    report = fastscan.filter_shards(tmp_path / "in", tmp_path / "out")
    (entry,) = report["shards"]
    assert entry["status"] == "failed"
    assert "text column 'text'" in entry["error"]
    assert "int64" in entry["error"].lower()
