"""What a new user meets first: config mistakes caught before any shard runs, a wrong text
field or tokenizer failing the shard with the keys / vocabulary named, truthful progress and
times, Ctrl-C and a closed pipe ending without a traceback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from io import StringIO
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import fastscan
import requires
from fastscan.filter.cli import main as filter_main
from fastscan.filter.guard import FIRST_RECORDS
from fastscan.filter.progress import Reporter
from shards import (
    encode,
    jsonl_bytes,
    many_records,
    read_decompressed,
    sample_records,
    small_vocab,
    write_jsonl,
    write_parquet,
)

BIN = Path(sys.executable).parent


@pytest.fixture
def shards(tmp_path: Path) -> Path:
    root = tmp_path / "in"
    write_jsonl(root / "a.jsonl", jsonl_bytes(sample_records()))
    write_parquet(root / "b.parquet", sample_records())
    return root


# (config file, what the message must hold: key, bad value, suggestion)
BAD_CONFIGS = [
    ("[stats]\nmin = { word = 10 }\n", ["stats.min", "'word'", "did you mean 'words'"]),
    ('[keep]\nmin_score = "high"\n', ["keep.min_score", "'high'", "min_score = 2.0"]),
    ('[keep]\nrequire = "toolcall"\n', ["keep.require", "'toolcall'", "'tool_call'"]),
    ("[keep]\nmin_scor = 3\n", ["keep.min_scor", "did you mean 'min_score'"]),
    ('[semantc]\ngold = "tool-use"\n', ["[semantc]", "did you mean 'semantic'"]),
    ('[semantic]\ngold = "tool-use"\naggregate = "median"\n', ["semantic.aggregate", "'median'"]),
    ('[semantic]\ngold = "no/such/gold.jsonl"\n', ["[semantic]", "no/such/gold.jsonl"]),
    ('[semantic]\ngold = "tool-use"\nmodel = "no-such-model"\n', ["[semantic]", "no-such-model"]),
    ('[dsir]\nmodel = "missing.parquet"\n', ["dsir.model", "missing.parquet", "fit-ngrams"]),
    ('[output]\nformat = "csv"\n', ["output.format", "'csv'", "'jsonl'"]),
    ("[read]\nblock_mb = 0\n", ["read.block_mb", "0", "block_mb = 8"]),
    ('[scan]\npack = "no-such-pack"\n', ["scan.pack", "no-such-pack"]),
]


@pytest.mark.parametrize(("toml", "expected"), BAD_CONFIGS)
def test_config_mistakes_exit_2_before_any_shard_runs(
    shards: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    toml: str,
    expected: list[str],
) -> None:
    config = tmp_path / "c.toml"
    config.write_text(toml, encoding="utf-8")
    out = tmp_path / "out"
    for extra in (["--dry-run"], []):
        rc = filter_main([str(shards), "-o", str(out), "--config", str(config), *extra])
        message = capsys.readouterr().err
        assert rc == 2, message
        for part in expected:
            assert part in message, (part, message)
        assert not out.exists()  # nothing written, no shard started


def test_a_bad_config_with_overwrite_deletes_nothing(
    shards: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert filter_main([str(shards), "-o", str(out), "-q"]) == 0
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    config = tmp_path / "c.toml"
    config.write_text("[stats]\nmin = { word = 10 }\n", encoding="utf-8")
    rc = filter_main([str(shards), "-o", str(out), "--config", str(config), "--overwrite"])
    assert rc == 2
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before


def test_require_as_one_string_is_one_group(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[keep]\nrequire = "tool_call"\n', encoding="utf-8")
    cfg = fastscan.FilterConfig.from_toml(config)
    assert cfg.require == ("tool_call",)
    as_flag: dict[str, Any] = {"require": "tool_call, schema"}  # as --require gives it
    assert fastscan.FilterConfig(**as_flag).require == ("tool_call", "schema")


@pytest.mark.parametrize("name", ["w.jsonl", "w.jsonl.zst", "w.jsonl.gz"])
def test_a_wrong_text_field_fails_the_shard_naming_the_keys(tmp_path: Path, name: str) -> None:
    write_jsonl(tmp_path / "in" / name, jsonl_bytes(sample_records()))
    report = fastscan.filter_shards(tmp_path / "in", tmp_path / "out", text_field="txt")
    (entry,) = report["shards"]
    assert entry["status"] == "failed"
    assert "none of the first 16 records has a string at text field 'txt'" in entry["error"]
    assert "keys seen: id, text" in entry["error"]
    assert "did you mean 'text'" in entry["error"]
    assert not (tmp_path / "out" / "rejects").exists()  # no copy of the corpus


def test_a_nested_wrong_field_shows_the_keys_where_the_path_breaks(tmp_path: Path) -> None:
    records = [{"meta": {"body": r["text"], "lang": "en"}} for r in sample_records()]
    write_jsonl(tmp_path / "in/n.jsonl", jsonl_bytes(records))
    report = fastscan.filter_shards(tmp_path / "in", tmp_path / "out", text_field="meta.text")
    assert "keys seen: meta.body, meta.lang" in report["shards"][0]["error"]


def test_the_first_records_decide_and_later_ones_do_not(tmp_path: Path) -> None:
    good = many_records(10)
    bad = [{"body": r["text"]} for r in many_records(FIRST_RECORDS)]
    # The first FIRST_RECORDS records lack the field: the shard fails even though later
    # records have it.
    write_jsonl(tmp_path / "in1/x.jsonl", jsonl_bytes(bad + good))
    report = fastscan.filter_shards(tmp_path / "in1", tmp_path / "out1")
    assert report["shards"][0]["status"] == "failed"
    assert f"first {FIRST_RECORDS:,} records" in report["shards"][0]["error"]
    # One good record among the first ones: bad records are counted rejects, written
    # compressed like the input.
    write_jsonl(tmp_path / "in2/x.jsonl.zst", jsonl_bytes(good[:1] + bad))
    report = fastscan.filter_shards(tmp_path / "in2", tmp_path / "out2")
    entry = report["shards"][0]
    assert entry["status"] == "ok"
    assert entry["rejected"]["docs"] == FIRST_RECORDS
    rejects = tmp_path / "out2/rejects/x.jsonl.zst.jsonl.zst"
    assert entry["outputs"]["rejects"] == "rejects/x.jsonl.zst.jsonl.zst"
    lines = read_decompressed(rejects).splitlines()
    assert len(lines) == FIRST_RECORDS
    assert json.loads(lines[0])["reason"] == "missing_field"


def test_a_wrong_tokenizer_fails_the_shard_naming_the_vocabulary(tmp_path: Path) -> None:
    texts = [r["text"] for r in sample_records()]
    words = sorted({w for t in texts for w in t.split() if w.isalpha()})
    tokenizer, vocab = small_vocab(words)
    (tmp_path / "tok.json").write_text(json.dumps(tokenizer), encoding="utf-8")
    right = [encode(t, vocab) for t in texts]
    # Ids from a bigger vocabulary: every row holds ids this tokenizer does not have.
    wrong = [[i + len(vocab) for i in ids] for ids in right]
    pq.write_table(
        pa.table({"tokens": pa.array(wrong, pa.list_(pa.int64()))}), tmp_path / "w.parquet"
    )
    report = fastscan.filter_shards(
        tmp_path / "w.parquet", tmp_path / "out", tokenizer=str(tmp_path / "tok.json")
    )
    error = report["shards"][0]["error"]
    assert report["shards"][0]["status"] == "failed"
    assert f"outside the vocabulary of {tmp_path / 'tok.json'} ({len(vocab):,} tokens" in error
    assert "--tokenizer" in error
    # The right ids pass.
    pq.write_table(
        pa.table({"tokens": pa.array(right, pa.list_(pa.int64()))}), tmp_path / "r.parquet"
    )
    report = fastscan.filter_shards(
        tmp_path / "r.parquet", tmp_path / "out2", tokenizer=str(tmp_path / "tok.json")
    )
    assert report["shards"][0]["status"] == "ok"


def test_progress_counts_text_bytes_and_stage_documents(shards: Path, tmp_path: Path) -> None:
    stream = StringIO()
    reporter = Reporter(stream=stream, bar=False)
    report = fastscan.filter_shards(
        shards,
        tmp_path / "out",
        reporter=reporter,
        min_score=1.0,
        stats={"min": {"words": 10}},
    )
    totals = report["totals"]
    assert reporter.docs == totals["read"]["docs"]
    assert reporter.text_bytes == totals["read"]["bytes"]  # what the summary counts
    stats_line = next(f for f in report["funnel"] if f["stage"] == "stats")
    assert reporter.stage_docs == {"stats": stats_line["docs_in"]}
    log = stream.getvalue()
    assert "then stats" in log
    assert log.count("[") >= 2  # one line per finished shard


def test_report_times_after_a_resume_say_nothing_was_read(
    shards: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = fastscan.filter_shards(shards, tmp_path / "out")
    assert first["totals"]["mb_per_s"] > 0
    assert first["timing"]["shards_timed"] == 2
    again = fastscan.filter_shards(shards, tmp_path / "out")
    assert again["totals"]["mb_per_s"] is None  # not "0.0 MB/s" over 0.0001 s
    assert again["timing"]["shards_timed"] == 0
    assert again["timing"]["shards_resumed"] == 2
    # The funnel's seconds are the stages' summed time, the same as the timing table's.
    assert again["timing"]["stage_seconds"] == {f["stage"]: f["seconds"] for f in again["funnel"]}
    assert filter_main([str(shards), "-o", str(tmp_path / "out")]) == 0
    assert "nothing new was read" in capsys.readouterr().out


def _big_scan_input(tmp_path: Path) -> Path:
    path = tmp_path / "big.jsonl"
    write_jsonl(path, jsonl_bytes(many_records(4000)))
    return path


@pytest.mark.parametrize("command", ["fastscan", "fastscan-filter"])
def test_a_closed_pipe_ends_quietly(tmp_path: Path, command: str) -> None:
    source = _big_scan_input(tmp_path)
    if command == "fastscan":
        args = [str(BIN / "fastscan"), "scan", str(source), "--json"]
    else:  # a report with 300 shard entries is larger than a pipe's buffer
        for i in range(300):
            write_jsonl(tmp_path / "many" / f"s{i:03}.jsonl", b'{"text": "x"}\n')
        args = [str(BIN / "fastscan-filter"), str(tmp_path / "many"), "-o", str(tmp_path / "o")]
        args += ["--json", "--threads", "1"]
    with subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        assert proc.stdout is not None
        assert proc.stderr is not None
        assert proc.stdout.read(100)  # like `| head -c 100`
        proc.stdout.close()
        err = proc.stderr.read().decode()
        proc.wait(timeout=120)
    assert "Traceback" not in err
    assert "BrokenPipeError" not in err
    # The status the work earned (here 0), whether or not a write met the closed pipe.
    assert proc.returncode == 0, err


def _default_signals() -> None:
    """In the child: SIGINT and SIGTERM as a shell's foreground job has them (a background
    job, such as ``make test &``, inherits SIGINT ignored, and Python then never raises
    KeyboardInterrupt)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


@pytest.mark.parametrize(("sig", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_ctrl_c_stops_removes_staging_and_resumes(
    tmp_path: Path, sig: signal.Signals, status: int
) -> None:
    """SIGINT (Ctrl-C) or SIGTERM (``timeout``, Slurm) during the semantic stage: exit 130 or
    143, a resume hint, no traceback, no staging, the lock released; unfinished shards are
    left for the rerun, which ends as an uninterrupted run does."""
    requires.module("sentence_transformers", "semantic")
    records = many_records(400)
    for i in range(4):
        write_jsonl(tmp_path / "in" / f"s{i}.jsonl", jsonl_bytes(records[i::4]))
    config = tmp_path / "c.toml"
    config.write_text('[semantic]\ngold = "tool-use"\nbatch_size = 8\n', encoding="utf-8")
    args = [str(BIN / "fastscan-filter"), str(tmp_path / "in"), "--config", str(config)]
    args += ["--threads", "2"]
    env = {**os.environ, "FASTSCAN_THREADS": "2"}
    with subprocess.Popen(
        [*args, "-o", str(tmp_path / "out")],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=_default_signals,
    ) as proc:
        assert proc.stderr is not None
        for line in proc.stderr:  # log lines (stderr is not a terminal)
            if "semantic: loading" in line:
                break
        time.sleep(1.0)
        sent = time.perf_counter()
        proc.send_signal(sig)
        err = proc.stderr.read()
        rc = proc.wait(timeout=60)
    print(f"stopped {time.perf_counter() - sent:.2f} s after {sig.name}")
    assert rc == status, err
    assert "Traceback" not in err
    assert "run the same command again to resume" in err
    assert not (tmp_path / "out" / "_tmp").exists()
    assert not (tmp_path / "out" / "_lock").exists()
    finished = len(list((tmp_path / "out" / "_done").glob("*.json")))
    scored = len(list((tmp_path / "out" / "_scored").glob("*.json")))
    assert finished < 4  # it stopped instead of finishing the running shards
    assert f"{scored} of 4 shards scored" in err  # the count the rerun resumes
    resumed = subprocess.run(
        [*args, "-o", str(tmp_path / "out"), "--json", "-q"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    report = json.loads(resumed.stdout)
    assert report["totals"]["resumed"] == scored
    clean = subprocess.run(
        [*args, "-o", str(tmp_path / "clean"), "-q"], capture_output=True, env=env, check=True
    )
    assert clean.returncode == 0
    for kept in (tmp_path / "clean" / "kept").rglob("*"):
        if kept.is_file():
            twin = tmp_path / "out" / kept.relative_to(tmp_path / "clean")
            assert twin.read_bytes() == kept.read_bytes()
