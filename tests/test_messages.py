"""Errors up front and words that agree with their numbers, in every command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import fastscan
from fastscan.cascade.encoders import gpu_available
from fastscan.cli import main as fastscan_main
from fastscan.filter.cli import main as filter_main
from fastscan.filter.config import ConfigError, FilterConfig
from fastscan.terminal import count
from shards import many_records, write_jsonl


def _shard(path: Path, records: list[dict[str, object]]) -> Path:
    return write_jsonl(path, "".join(json.dumps(r) + "\n" for r in records).encode())


def test_counts_agree_with_their_nouns() -> None:
    assert count(1, "shard") == "1 shard"
    assert count(0, "call") == "0 calls"
    assert count(12_345, "spec") == "12,345 specs"
    assert count(2, "match", "matches") == "2 matches"


def test_one_shard_is_one_shard(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _shard(tmp_path / "in" / "a.jsonl", many_records(5))
    assert filter_main([str(tmp_path / "in"), "-o", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "1 shard (" in out
    assert "1 shards" not in out


def test_a_wrong_text_field_names_the_keys_in_scan_and_extract(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _shard(tmp_path / "a.jsonl", [{"body": "def f(x: int): pass"}] * 3)
    assert fastscan_main(["scan", str(path)]) == 2
    err = capsys.readouterr().err
    assert "text field 'text'" in err
    assert "body" in err
    assert fastscan_main(["extract", str(path), "-o", str(tmp_path / "x")]) == 1
    err = capsys.readouterr().err
    assert "text field 'text'" in err
    assert "body" in err
    # The right field reads every document.
    assert (
        fastscan_main(["extract", str(path), "-o", str(tmp_path / "y"), "--text-field", "body"])
        == 0
    )


def test_toolcalls_without_a_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        fastscan_main(["toolcalls"])
    assert exit_.value.code == 2
    assert "{check,convert}" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("min_score = 3\n", "it belongs in [keep]"),
        ("top_fraction = 0.1\n", "[dsir], [static] or [semantic]"),
        ("mni_score = 3\n", "did you mean 'min_score', in [keep]"),
    ],
)
def test_a_key_outside_any_section_says_where_it_belongs(
    tmp_path: Path, text: str, says: str
) -> None:
    config = tmp_path / "c.toml"
    config.write_text(text)
    with pytest.raises(ConfigError, match="outside any section") as error:
        FilterConfig.resolve(config)
    assert says in str(error.value)


def test_a_misspelt_gold_set_gets_a_suggestion(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[semantic]\ngold = "tool_use"\n')
    with pytest.raises(ConfigError, match="did you mean 'tool-use'"):
        FilterConfig.resolve(config).check()


def test_a_gpu_device_without_a_gpu_fails_the_dry_run(tmp_path: Path) -> None:
    """``device = "cuda"`` is checked before any shard: refused where torch sees no GPU,
    accepted where it does (both sides run, whichever machine this is)."""
    config = tmp_path / "c.toml"
    config.write_text('[semantic]\ngold = "tool-use"\ndevice = "cuda"\n')
    _shard(tmp_path / "in" / "a.jsonl", many_records(3))
    if gpu_available():
        plan = fastscan.filter_shards(
            tmp_path / "in", tmp_path / "out", config=config, dry_run=True
        )
        assert plan["totals"]["pending"] == 1
        return
    with pytest.raises(ConfigError, match="no CUDA device"):
        fastscan.filter_shards(tmp_path / "in", tmp_path / "out", config=config, dry_run=True)


def test_the_wrote_line_lists_every_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = [json.dumps({"messages": [{"role": "user", "content": "hi"}]}), "{broken"]
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.jsonl").write_text("\n".join(lines) + "\n")
    fastscan_main(["toolcalls", "check", str(tmp_path / "in"), "-o", str(tmp_path / "o")])
    wrote = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("wrote"))
    assert "rejects/ (1 file)" in wrote
    assert "violations.parquet" in wrote


def test_select_speaks_for_itself(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for i in range(3):
        _shard(tmp_path / "in" / f"s{i}.jsonl", many_records(10 + i))
    assert filter_main([str(tmp_path / "in"), "-o", str(tmp_path / "run"), "-q"]) == 0
    args = ["select", str(tmp_path / "run"), "-o", str(tmp_path / "sel"), "--min-score", "5"]
    assert fastscan_main(args) == 0
    captured = capsys.readouterr()
    log = [line for line in captured.err.splitlines() if line]
    assert log
    assert all(line.startswith("fastscan select: ") for line in log), log
    counters = [line.split("[")[1].split("]")[0] for line in log if "[" in line]
    assert counters == ["1/3", "2/3", "3/3"]
    assert "MB/s" not in captured.err
    assert "already" not in captured.err
    assert captured.out.startswith("fastscan select: 3 shards")
    assert "decided from the run's scores" in captured.out
    assert "all shards resumed" not in captured.out
    assert str(tmp_path / "sel" / "report.html") in captured.out
    html = (tmp_path / "sel" / "report.html").read_text()
    assert "<title>fastscan select report</title>" in html


def test_a_resumed_run_counts_each_shard_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for i in range(3):
        _shard(tmp_path / "in" / f"s{i}.jsonl", many_records(10 + i))
    assert filter_main([str(tmp_path / "in"), "-o", str(tmp_path / "run")]) == 0
    (tmp_path / "run" / "_done" / "s1.jsonl.json").unlink()  # as if stopped in phase 2
    capsys.readouterr()
    assert filter_main([str(tmp_path / "in"), "-o", str(tmp_path / "run")]) == 0
    err = capsys.readouterr().err
    assert "resuming: 3 of 3 shards already scored" in err
    counters = [line.split("[")[1].split("]")[0] for line in err.splitlines() if "[" in line]
    assert counters == ["1/3", "2/3", "3/3"]


def test_without_a_terminal_a_line_every_few_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    import io
    import time

    from fastscan.filter.progress import Reporter

    monkeypatch.setattr(Reporter, "LOG_EVERY", 0.2)
    stream = io.StringIO()
    reporter = Reporter(stream=stream, bar=False)
    reporter.start(total_bytes=10, shards=2, done=0, threads=1, stages=["semantic"])
    reporter.stage_status("semantic", "loading the model")
    time.sleep(1.0)
    reporter.finish()
    lines = [line for line in stream.getvalue().splitlines() if "loading the model" in line]
    assert len(lines) >= 3  # the first, then the ticks while nothing else was said
    assert "0/2 shards finished" in lines[-1]
