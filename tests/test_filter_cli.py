"""The fastscan-filter command: help, exit codes, dry run, log lines, JSON report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from fastscan.filter.cli import main
from shards import jsonl_bytes, sample_records, write_jsonl

CLI = [sys.executable, "-m", "fastscan.filter.cli"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True)


def test_help_has_examples() -> None:
    r = run("--help")
    assert r.returncode == 0
    for text in (
        "examples:",
        "--min-score",
        "--require",
        "--tokenizer",
        "--dry-run",
        "exit status",
    ):
        assert text in r.stdout


def test_exit_codes(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "in/a.jsonl", jsonl_bytes(sample_records()))
    assert run(str(tmp_path / "missing"), "-o", str(tmp_path / "o")).returncode == 2
    assert run(str(tmp_path / "in"), "-o", str(tmp_path / "o"), "--threads", "x").returncode == 2
    assert run(str(tmp_path / "in"), "-o", str(tmp_path / "o"), "--require", "zzz").returncode == 2
    ok = run(str(tmp_path / "in"), "-o", str(tmp_path / "o"))
    assert ok.returncode == 0, ok.stderr
    assert "kept" in ok.stdout
    assert "read" in ok.stdout
    # Not a terminal: plain log lines, one per shard.
    assert "fastscan-filter: [1/1] a.jsonl: 16 read" in ok.stderr
    (tmp_path / "in/b.jsonl.gz").write_bytes(b"\x1f\x8b garbage")
    failed = run(str(tmp_path / "in"), "-o", str(tmp_path / "o"))
    assert failed.returncode == 1
    assert "FAILED b.jsonl.gz" in failed.stdout


def test_dry_run_writes_nothing(tmp_path: Path, capsys: object) -> None:
    write_jsonl(tmp_path / "in/a.jsonl", jsonl_bytes(sample_records()))
    write_jsonl(tmp_path / "in/b.jsonl.zst", jsonl_bytes(sample_records()))
    assert main([str(tmp_path / "in"), "-o", str(tmp_path / "o"), "--dry-run"]) == 0
    assert not (tmp_path / "o").exists()
    r = run(str(tmp_path / "in"), "-o", str(tmp_path / "o"), "--dry-run", "--json")
    plan = json.loads(r.stdout)
    assert plan["totals"]["pending"] == 2
    assert plan["totals"]["by_format"]["jsonl"]["shards"] == 2
    run(str(tmp_path / "in"), "-o", str(tmp_path / "o"), "-q")
    plan = json.loads(
        run(str(tmp_path / "in"), "-o", str(tmp_path / "o"), "--dry-run", "--json").stdout
    )
    assert plan["totals"]["done"] == 2
    assert plan["totals"]["pending"] == 0


def test_quiet_prints_nothing(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "in/a.jsonl", jsonl_bytes(sample_records()))
    r = run(str(tmp_path / "in"), "-o", str(tmp_path / "o"), "-q")
    assert r.returncode == 0
    assert r.stdout == ""
    assert r.stderr == ""


def test_progress_bar_renders(tmp_path: Path) -> None:
    import io

    import fastscan
    from fastscan.filter.progress import Reporter

    write_jsonl(tmp_path / "in/a.jsonl", jsonl_bytes(sample_records()))
    stream = io.StringIO()
    report = fastscan.filter_shards(
        tmp_path / "in", tmp_path / "o", reporter=Reporter(stream=stream, bar=True)
    )
    assert report["totals"]["read"]["docs"] == 16
    drawn = stream.getvalue()
    assert "FAILED" not in drawn
    # The live display drew its frames (redrawn in place, then erased at the end): the
    # stage, the documents scanned and the shards finished, up to the last.
    frames = drawn.split("\r")
    assert any("patterns" in f and "16 docs" in f and "1/1 shards" in f for f in frames)
    assert any("0/1 shards" in f for f in frames)
