"""Nothing lost, nothing corrupted: one run per OUT, --overwrite removes only fastscan's
files, changed and vanished inputs, paths that stay inside OUT, per-shard failures, valid JSON
and bounded packs (issue 15's cases, each failing before its fix)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import fastscan
from fastscan.filter.outdir import LOCK
from fastscan.filter.run import UsageError
from requires import unavailable
from shards import (
    jsonl_bytes,
    many_records,
    read_decompressed,
    sample_records,
    tree_bytes,
    write_jsonl,
)

BIN = Path(sys.executable).parent


def _shards(root: Path) -> Path:
    write_jsonl(root / "a.jsonl", jsonl_bytes(sample_records()))
    write_jsonl(root / "sub" / "b.jsonl.zst", jsonl_bytes(many_records(60)))
    return root


def test_a_second_run_on_the_same_out_is_refused(tmp_path: Path) -> None:
    shards = _shards(tmp_path / "in")
    out = tmp_path / "out"
    out.mkdir()
    holder = {"pid": os.getpid(), "host": socket.gethostname(), "started": "now"}
    (out / LOCK).write_text(json.dumps(holder), encoding="utf-8")  # a live run holds OUT
    with pytest.raises(UsageError, match="in use by another fastscan run"):
        fastscan.filter_shards(shards, out)
    # The holder's process is gone: the lock is stale and taken over; released at the end.
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    (out / LOCK).write_text(json.dumps({**holder, "pid": int(dead.stdout)}), encoding="utf-8")
    report = fastscan.filter_shards(shards, out)
    assert report["totals"]["failed"] == 0
    assert not (out / LOCK).exists()
    # Another machine's lock is never taken over, nor one that cannot be read (it used to be
    # taken for stale while its run was still writing it: two runs then shared OUT).
    (out / LOCK).write_text(json.dumps({**holder, "host": "elsewhere"}), encoding="utf-8")
    with pytest.raises(UsageError, match="elsewhere"):
        fastscan.filter_shards(shards, out)
    (out / LOCK).write_text("", encoding="utf-8")
    with pytest.raises(UsageError, match="in use by another fastscan run"):
        fastscan.filter_shards(shards, out)


def test_concurrent_runs_into_one_out_end_like_one_clean_run(tmp_path: Path) -> None:
    shards = _shards(tmp_path / "in")
    for i in range(6):
        write_jsonl(tmp_path / "in" / f"x{i}.jsonl", jsonl_bytes(many_records(300)))
    command = [str(BIN / "fastscan-filter"), str(shards), "-o", str(tmp_path / "out"), "-q"]
    first = subprocess.Popen([*command, "--threads", "1"], stderr=subprocess.PIPE, text=True)
    second = subprocess.run(command, capture_output=True, text=True)
    _, first_err = first.communicate(timeout=300)
    codes = sorted([first.returncode, second.returncode])
    # Either the second started after the first finished (a resume), or it was refused.
    assert codes in ([0, 0], [0, 2]), (first_err, second.stderr)
    if codes == [0, 2]:
        assert "in use by another fastscan run" in first_err + second.stderr
    final = subprocess.run(command, capture_output=True, text=True, check=True)
    assert final.returncode == 0
    fastscan.filter_shards(shards, tmp_path / "clean")
    assert tree_bytes(tmp_path / "out") == tree_bytes(tmp_path / "clean")


def test_overwrite_removes_only_what_fastscan_wrote(tmp_path: Path) -> None:
    shards = _shards(tmp_path / "in")
    out = tmp_path / "out"
    fastscan.filter_shards(shards, out)
    mine = [out / "kept" / "mine.txt", out / "notes.md", out / "scores" / "sub" / "keep.csv"]
    for path in mine:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("the user's", encoding="utf-8")
    fastscan.filter_shards(shards, out, overwrite=True, min_score=3.0)
    for path in mine:
        assert path.read_text(encoding="utf-8") == "the user's"
    assert json.loads((out / "report.json").read_text())["keep_rule"]["min_score"] == 3.0


def test_a_changed_input_is_redone_and_a_vanished_one_reported(tmp_path: Path) -> None:
    shards = _shards(tmp_path / "in")
    out = tmp_path / "out"
    first = fastscan.filter_shards(shards, out)
    before = {e["relative"]: e["read"]["docs"] for e in first["shards"]}
    grown = jsonl_bytes(sample_records() + many_records(700))
    write_jsonl(shards / "a.jsonl", grown)  # the shard grew after the run finished
    again = fastscan.filter_shards(shards, out)
    entry = next(e for e in again["shards"] if e["relative"] == "a.jsonl")
    assert not entry.get("resumed")
    assert entry["input_changed"] is True
    assert entry["read"]["docs"] == before["a.jsonl"] + 700
    assert again["changed_inputs"] == ["a.jsonl"]
    assert again["totals"]["resumed"] == 1
    # An input that vanished: its outputs are reported, then removed by --overwrite.
    (shards / "sub" / "b.jsonl.zst").unlink()
    third = fastscan.filter_shards(shards, out)
    (gone,) = third["vanished_inputs"]
    assert gone["relative"] == "sub/b.jsonl.zst"
    kept = out / gone["outputs"]["kept"][0]
    assert kept.exists()
    fastscan.filter_shards(shards, out, overwrite=True)
    assert not kept.exists()


def test_paths_never_leave_out_and_out_is_never_input(tmp_path: Path) -> None:
    root = tmp_path / "s1" / "s2"
    write_jsonl(tmp_path / "t" / "x.jsonl", jsonl_bytes(sample_records()))
    root.mkdir(parents=True)
    before = {p for p in tmp_path.rglob("*")}
    out = tmp_path / "o"
    report = fastscan.filter_shards([str(tmp_path / "s1/s2/../../t/*.jsonl")], out)
    assert report["shards"][0]["relative"] == "x.jsonl"
    written = {p for p in tmp_path.rglob("*")} - before
    assert all(p == out or out in p.parents for p in written)
    # OUT inside the input directory: never read back, however often the run is repeated.
    inner = tmp_path / "t" / "out"
    reads = [
        fastscan.filter_shards(tmp_path / "t", inner, overwrite=True)["totals"]["read"]["docs"]
        for _ in range(3)
    ]
    assert reads == [16, 16, 16]
    # A directory another fastscan run wrote is skipped too.
    again = fastscan.filter_shards(tmp_path / "t", tmp_path / "o2")
    assert again["totals"]["read"]["docs"] == 16


def test_symlinked_directories_are_listed_as_ignored(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "real" / "x.jsonl", jsonl_bytes(sample_records()))
    (tmp_path / "in").mkdir()
    write_jsonl(tmp_path / "in" / "y.jsonl", jsonl_bytes(sample_records()))
    (tmp_path / "in" / "link").symlink_to(tmp_path / "real", target_is_directory=True)
    report = fastscan.filter_shards(tmp_path / "in", tmp_path / "out")
    assert [e["relative"] for e in report["shards"]] == ["y.jsonl"]
    assert any("symbolic link to a directory" in i for i in report["ignored_files"])


def test_bad_parquet_shards_fail_alone(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "in" / "ok.jsonl", jsonl_bytes(sample_records()))
    two = pa.Table.from_arrays([pa.array(["a"]), pa.array(["b"])], names=["text", "text"])
    pq.write_table(two, tmp_path / "in" / "two.parquet")
    doubles = pa.table({"tokens": pa.array([[1.0, 2.0]], pa.list_(pa.float64()))})
    pq.write_table(doubles, tmp_path / "in" / "doubles.parquet")
    tok = {"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "c": 2}, "merges": []}}
    (tmp_path / "tok.json").write_text(json.dumps(tok), encoding="utf-8")
    report = fastscan.filter_shards(
        tmp_path / "in", tmp_path / "out", tokenizer=str(tmp_path / "tok.json")
    )
    by = {e["relative"]: e for e in report["shards"]}
    assert by["ok.jsonl"]["status"] == "ok"
    assert "2 columns named 'text'" in by["two.parquet"]["error"]
    assert "token column 'tokens' (list<" in by["doubles.parquet"]["error"]
    assert (tmp_path / "out" / "report.html").is_file()


def test_a_file_name_too_long_for_its_outputs_fails_before_anything_is_written(
    tmp_path: Path,
) -> None:
    name = "d" * 236 + ".jsonl"  # fine as an input; its scores file name would not be
    write_jsonl(tmp_path / "in" / name, jsonl_bytes(sample_records()))
    report = fastscan.filter_shards(tmp_path / "in", tmp_path / "out")
    assert report["shards"][0]["status"] == "failed"
    assert "the limit is" in report["shards"][0]["error"]
    assert not (tmp_path / "out" / "kept").exists()


def test_parquet_rows_written_as_jsonl_are_valid_json(tmp_path: Path) -> None:
    texts = [r["text"] for r in sample_records()]
    values = [float("nan"), float("inf"), float("-inf")] + [1.5] * (len(texts) - 3)
    pq.write_table(pa.table({"text": texts, "x": values}), tmp_path / "in.parquet")
    fastscan.filter_shards(tmp_path / "in.parquet", tmp_path / "out", output_format="jsonl")
    lines = (tmp_path / "out" / "kept" / "in.parquet.jsonl").read_text().splitlines()

    def strict(text: str) -> None:
        raise ValueError(text)

    rows = [json.loads(line, parse_constant=strict) for line in lines]
    assert rows
    assert all(r["x"] is None or r["x"] == 1.5 for r in rows)


def test_bad_packs_are_pack_errors(tmp_path: Path) -> None:
    bad = tmp_path / "latin1.toml"
    bad.write_bytes('[[group]]\nname = "g"\nliterals = ["caf\xe9"]\n'.encode("latin-1"))
    with pytest.raises(fastscan.PackError, match="not UTF-8"):
        fastscan.PatternPack.load(bad)
    huge = {"group": [{"name": "g", "weight": 1e308, "literals": ["x"]}]}
    with pytest.raises(fastscan.PackError, match="weight"):
        fastscan.PatternPack.from_dict(huge)
    long = {"group": [{"name": "g", "literals": ["y" * 1000]}]}
    with pytest.raises(fastscan.PackError, match="limit is 256"):
        fastscan.PatternPack.from_dict(long)
    many = {"group": [{"name": "g", "literals": [f"{i:0250d}" for i in range(300)]}]}
    with pytest.raises(fastscan.PackError, match="exceed 65536 bytes"):
        fastscan.PatternPack.from_dict(many)


def test_a_byte_order_mark_and_deep_nesting(tmp_path: Path) -> None:
    data = b"\xef\xbb\xbf" + jsonl_bytes(sample_records())
    write_jsonl(tmp_path / "in" / "bom.jsonl", data)
    report = fastscan.filter_shards(tmp_path / "in", tmp_path / "out")
    assert report["totals"]["rejected"]["docs"] == 0  # the first record is read, not rejected
    kept = (tmp_path / "out" / "kept" / "bom.jsonl").read_bytes()
    assert kept.startswith(b"\xef\xbb\xbf")  # kept lines stay byte-identical to the input
    deep = tmp_path / "deep.jsonl"
    deep.write_bytes(b'{"text": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n" + data[3:])
    done = subprocess.run(
        [str(BIN / "fastscan"), "scan", str(deep), "--json"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "nested too deeply" in done.stderr
    assert len(done.stdout.splitlines()) == 16


def test_a_file_name_that_is_not_utf8(tmp_path: Path) -> None:
    root = tmp_path / "in"
    root.mkdir()
    name = os.fsdecode(b"caf\xe9.jsonl")  # Latin-1 bytes: not UTF-8
    (root / name).write_bytes(jsonl_bytes(sample_records()))
    write_jsonl(root / "ok.jsonl", jsonl_bytes(sample_records()))
    done = subprocess.run(
        [str(BIN / "fastscan-filter"), str(root), "-o", str(tmp_path / "out")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    assert [e["status"] for e in report["shards"]] == ["ok", "ok"]
    assert (tmp_path / "out" / "report.html").is_file()
    assert (tmp_path / "out" / "kept" / name).is_file()


def test_hostile_regexes_are_refused_or_scan_at_a_bounded_cost() -> None:
    def pack(regex: str) -> fastscan.PatternPack:
        return fastscan.PatternPack.from_dict({"group": [{"name": "g", "regexes": [regex]}]})

    for hostile in ("a{10000}b", "(?:a{100}){100}b", "a{2000}b"):
        with pytest.raises(fastscan.PackError, match="compiled size limit"):
            pack(hostile)
    # The largest accepted member of the family, on its worst input (long runs of 'a' then
    # 'b'), against the built-in pack on ordinary text: a ratio measured in one run.
    import time

    worst = fastscan.Scanner(pack("a{1700}b"), threads=1)
    builtin = fastscan.Scanner("tool-use", threads=1)
    hostile_texts = ["a" * 30_000 + "b"] * 20
    normal_texts = ["Call api.get(user_id=1): GET /v1/users returns JSON. " * 60] * 200

    def rate(scanner: fastscan.Scanner, texts: list[str]) -> float:
        scanner.scan(texts[:2])
        best = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            scanner.scan(texts)
            best = min(best, time.perf_counter() - started)
        return sum(map(len, texts)) / best

    ratio = rate(worst, hostile_texts) / rate(builtin, normal_texts)
    print(f"slowest accepted hostile regex: {ratio:.2f}x the built-in pack's speed")
    assert ratio >= 1 / 20
    # Past eight ungated regexes (no required literal), one RegexSet pass runs them; nine of
    # the largest counted runs scanned at 0.02 MB/s (its lazy DFA's cache was too small and it
    # fell back to a slow engine) before the set got a larger cache.
    many = fastscan.PatternPack.from_dict(
        {"group": [{"name": "g", "regexes": [f"[a-z]{{780}}[0-9]{{{i}}}" for i in range(1, 10)]}]}
    )
    letters = ["qwertyuiopasdfghjklzxcvbnm" * 1200] * 20
    set_ratio = rate(fastscan.Scanner(many, threads=1), letters) / rate(builtin, normal_texts)
    print(f"nine hostile regexes in one set: {set_ratio:.2f}x the built-in pack's speed")
    assert set_ratio >= 1 / 20


def test_token_lists_with_nulls_or_huge_ids_are_rejects_with_the_true_id(tmp_path: Path) -> None:
    tok = {"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "c": 2}, "merges": []}}
    tokenizer = fastscan._fastscan.Tokenizer(json.dumps(tok))
    ids = pa.array([[0, 1], [0, None, 1], [0, 2**64 - 1], [2]], pa.list_(pa.uint64()))
    texts, bad = tokenizer.decode_arrow(ids)
    assert texts.to_pylist() == ["ab", None, None, "c"]
    assert bad == [(1, None), (2, 2**64 - 1)]  # a null is no id 0; the id is not 2**63 - 1
    pq.write_table(pa.table({"tokens": ids}), tmp_path / "t.parquet")
    (tmp_path / "tok.json").write_text(json.dumps(tok), encoding="utf-8")
    report = fastscan.filter_shards(
        tmp_path / "t.parquet", tmp_path / "out", tokenizer=str(tmp_path / "tok.json")
    )
    assert report["totals"]["rejected"]["docs"] == 2
    lines = read_decompressed(tmp_path / "out" / "rejects" / "t.parquet.jsonl.zst").splitlines()
    assert [json.loads(x)["detail"] for x in lines] == [
        "a token id in the list is null",
        f"token id {2**64 - 1} is not in the vocabulary",
    ]


PIDS = Path("/sys/fs/cgroup/pids")


def test_no_thread_to_spawn_is_an_error_not_a_panic(tmp_path: Path) -> None:
    """Under a pids cgroup that allows no new thread, a run reports the failure; nothing
    panics (`PanicException: spawning a thread` aborted the whole run before)."""
    group = PIDS / f"fastscan-test-{os.getpid()}"
    try:
        group.mkdir()
    except OSError as e:
        unavailable(
            f"cannot create a pids cgroup here ({e.strerror}): needs root and cgroup v1",
            "FASTSCAN_REQUIRE_CGROUP",
        )
    write_jsonl(tmp_path / "in" / "a.jsonl", jsonl_bytes(many_records(2000)))
    # One shard on two threads: the scanner's pool takes two threads (allowed), the shard's
    # reader thread would be one more (refused).
    script = f"""
import json, os, pathlib
import fastscan
fastscan.Scanner(threads=2).scan(["warm the pool up"])
group = pathlib.Path({str(group)!r})
(group / "cgroup.procs").write_text(str(os.getpid()))
(group / "pids.max").write_text((group / "pids.current").read_text().strip())
try:
    report = fastscan.filter_shards({str(tmp_path / "in")!r}, {str(tmp_path / "out")!r},
                                    threads=2)
    print(json.dumps([e["error"] for e in report["shards"]]))
except Exception as e:
    print(json.dumps([type(e).__name__ + ": " + str(e)]))
"""
    try:
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    finally:
        for pid in (group / "cgroup.procs").read_text().split():
            (PIDS / "cgroup.procs").write_text(pid)
        group.rmdir()
    assert "PanicException" not in done.stderr + done.stdout
    assert done.returncode == 0, done.stderr
    errors = json.loads(done.stdout.strip().splitlines()[-1])
    assert any(e and "reader thread" in e for e in errors), errors


def test_string_view_texts_run_through_every_stage() -> None:
    texts = [r["text"] for r in sample_records()]
    plain = fastscan.Cascade(
        [fastscan.PatternStage(min_score=1.0), fastscan.StatsStage(min={"words": 5})]
    ).run(texts)
    for kind in (pa.string_view(), pa.binary_view()):
        array = pa.array([t.encode() if kind == pa.binary_view() else t for t in texts], kind)
        viewed = fastscan.Cascade(
            [fastscan.PatternStage(min_score=1.0), fastscan.StatsStage(min={"words": 5})]
        ).run(array)
        assert viewed.table.column("decision").equals(plain.table.column("decision"))
