"""Every command keeps the filter's promises about its output directory: no two outputs on
one path, inputs never deleted and outputs never read as inputs, one run at a time,
``select`` deciding only finished runs, one bad file failing alone, bounded thread counts and
row groups, Parquet rows read as the records they store."""

from __future__ import annotations

import gzip
import json
import math
import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastscan
import fastscan.toolcalls as tc
from fastscan.cli import main as fastscan_main
from fastscan.filter.cli import main as filter_main
from fastscan.filter.config import ConfigError, FilterConfig
from fastscan.filter.outdir import RunLock
from fastscan.filter.plan import PlanError, Shard, check_outputs, plan
from fastscan.filter.reselect import select_run
from fastscan.filter.run import Run, UsageError
from fastscan.toolcalls.synthetic import dataset
from shards import many_records, read_decompressed, write_jsonl, write_parquet


def _lines(path: Path) -> list[bytes]:
    return [line for line in read_decompressed(path).split(b"\n") if line]


def _records(n: int, seed: int) -> list[dict[str, Any]]:
    """Tool-call records, each with a unique id and a text the filter reads."""
    texts = many_records(n)
    return [
        {**record, "id": f"{seed}-{i}", "text": texts[i]["text"]}
        for i, (record, _) in enumerate(dataset(n, seed=seed, error_rate=0.3))
    ]


def _jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    return write_jsonl(path, "".join(json.dumps(r) + "\n" for r in records).encode())


# ---- 1. no two outputs on one path ----


def test_the_collision_check_names_both_inputs() -> None:
    a = Shard(Path("in/a.jsonl.gz"), "a.jsonl.gz", "jsonl", 1)
    b = Shard(Path("in/a.jsonl.zst"), "a.jsonl.zst", "jsonl", 1)
    with pytest.raises(PlanError, match=r"a.jsonl.gz and in/a.jsonl.zst .* kept/a.jsonl.zst"):
        check_outputs([(a, ["kept/a.jsonl.zst"]), (b, ["kept/a.jsonl.zst"])])
    with pytest.raises(PlanError, match="both as a file"):
        check_outputs([(a, ["kept/x"]), (b, ["kept/x/y.jsonl"])])
    with pytest.raises(PlanError, match="the run itself"):
        check_outputs([(a, ["report.json"])], reserved=["report.json"])
    check_outputs([(a, ["kept/a.jsonl.gz"]), (b, ["kept/a.jsonl.zst"])])


def test_convert_keeps_results_apart_from_bookkeeping(tmp_path: Path) -> None:
    """in/z.jsonl's rejects and in/rejects/z.jsonl's records, x.parquet and x.jsonl.zst:
    every record in exactly one file, none overwritten."""
    inp = tmp_path / "in"
    counts = {}
    for i, rel in enumerate(["z.jsonl", "rejects/z.jsonl", "not_converted/z.jsonl", "x.jsonl.zst"]):
        records = _records(40, seed=i)
        _jsonl(inp / rel, records)
        counts[rel] = len(records)
    rows = [json.loads(json.dumps(r)) for r in _records(30, seed=9)]
    for r in rows:  # Parquet wants one type per column
        r.pop("tools", None)
    write_parquet(inp / "x.parquet", [{"text": r["text"], "id": r["id"]} for r in rows])
    counts["x.parquet"] = len(rows)
    result = tc.convert(inp, "hermes", tmp_path / "out", allow=["call_ids"])
    out = tmp_path / "out"
    per_file = {Path(f["file"]).relative_to(inp).as_posix(): f for f in result.report["files"]}
    for rel, n in counts.items():
        entry = per_file[rel]
        assert entry["read"] == n == entry["converted"] + entry["not_converted"] + entry["rejected"]
        name = rel + ".jsonl.zst" if rel.endswith(".parquet") else rel
        written = 0
        for kind in ("converted", "not_converted", "rejects"):
            if (out / kind / name).exists():
                written += len(_lines(out / kind / name))
        assert written == n, rel  # nothing overwritten by another input's output


def test_check_rejects_of_parquet_and_jsonl_twins_stay_apart(tmp_path: Path) -> None:
    inp = tmp_path / "in"
    _jsonl(inp / "x.jsonl.zst", _records(20, seed=1))
    bad = b'{"messages": [\n' * 5
    write_jsonl(inp / "y.jsonl.zst", bad)
    write_parquet(inp / "y.parquet", [{"messages": "not a list"}] * 7)
    result = tc.check(inp, tmp_path / "out")
    out = tmp_path / "out"
    assert len(_lines(out / "rejects" / "y.jsonl.zst")) == 5
    assert len(_lines(out / "rejects" / "y.parquet.jsonl.zst")) == 7
    assert result.report["totals"]["rejected"] == 12


def test_the_filter_refuses_two_shards_with_one_kept_file(tmp_path: Path) -> None:
    records = many_records(10)
    write_jsonl(
        tmp_path / "in" / "a.jsonl.gz", b"".join(json.dumps(r).encode() + b"\n" for r in records)
    )
    write_jsonl(
        tmp_path / "in" / "a.jsonl.zst", b"".join(json.dumps(r).encode() + b"\n" for r in records)
    )
    with pytest.raises(UsageError, match=r"kept/a\.jsonl\.zst"):
        fastscan.filter_shards(tmp_path / "in", tmp_path / "out", output_compression="zstd")
    assert not (tmp_path / "out").exists()  # refused before anything was written


# ---- 2. inputs are never deleted, outputs never read as inputs ----


def _filter_run(tmp_path: Path, n: int = 3) -> tuple[Path, Path]:
    inp = tmp_path / "data"
    for i in range(n):
        _jsonl(inp / f"s{i}.jsonl", many_records(12 + i))
    out = tmp_path / "data" / "out1"
    assert filter_main([str(inp), "-o", str(out), "-q"]) == 0
    return inp, out


def test_an_input_inside_out_is_refused_and_kept(tmp_path: Path) -> None:
    inp, out = _filter_run(tmp_path)
    kept = next((out / "kept").glob("*.jsonl"))
    before = kept.read_bytes()
    assert filter_main([str(kept), "-o", str(out), "--overwrite", "-q"]) == 2
    assert kept.read_bytes() == before
    assert filter_main([str(inp), "-o", str(inp), "-q"]) == 2  # D -o D
    assert fastscan_main(["toolcalls", "check", str(kept), "-o", str(out), "--overwrite"]) == 2
    assert kept.read_bytes() == before
    assert fastscan_main(["extract", str(out / "kept"), "-o", str(out), "--overwrite"]) == 2
    assert kept.read_bytes() == before


def test_walks_and_globs_skip_every_run_directory(tmp_path: Path) -> None:
    inp, out = _filter_run(tmp_path)
    originals = sorted(p.name for p in inp.glob("*.jsonl"))
    for pattern in (str(inp), str(inp / "**" / "*.jsonl"), str(inp / "**" / "*")):
        shards, _ignored = plan([pattern], out=tmp_path / "elsewhere")
        assert sorted(s.relative for s in shards) == originals, pattern
    # A second run into the same input tree reads only the inputs.
    report = fastscan.filter_shards(str(inp / "**" / "*.jsonl"), tmp_path / "data" / "out2")
    assert sorted(s["relative"] for s in report["shards"]) == originals
    # toolcalls check n1 -o n1/first, then -o n1/second: the same records both times.
    n1 = tmp_path / "n1"
    _jsonl(n1 / "a.jsonl", _records(25, seed=3))
    first = tc.check(n1, n1 / "first").report["totals"]
    second = tc.check(n1, n1 / "second").report["totals"]
    assert first == second
    assert first["read"] == 25
    # Naming a run's directory itself is an error that says what to name instead.
    with pytest.raises(PlanError, match="kept"):
        plan([out])
    shards, _ = plan([out / "kept"])  # its kept records are what extract reads
    assert shards


# ---- 3. every command takes the run lock ----


@pytest.mark.parametrize("command", ["check", "convert", "extract", "select"])
def test_every_command_takes_the_run_lock(tmp_path: Path, command: str) -> None:
    _, run = _filter_run(tmp_path)
    target = tmp_path / "busy"
    lock = RunLock(target)
    lock.acquire()  # a live run (this process) holds it
    try:
        args = {
            "check": ["toolcalls", "check", str(run / "kept"), "-o", str(target)],
            "convert": [
                "toolcalls",
                "convert",
                str(run / "kept"),
                "--to",
                "hermes",
                "-o",
                str(target),
            ],
            "extract": ["extract", str(run / "kept"), "-o", str(target)],
            "select": ["select", str(run), "-o", str(target), "--min-score", "5"],
        }[command]
        assert fastscan_main([*args, "--overwrite"]) == 2
        assert sorted(p.name for p in target.iterdir()) == ["_lock"]
    finally:
        lock.release()
    assert fastscan_main([*args, "--overwrite"]) in (0, 1)
    assert not (target / "_lock").exists()
    assert not (target / "_tmp").exists()


def test_a_killed_toolcalls_run_is_replaced_exactly(tmp_path: Path) -> None:
    """A run killed after committing some files (journal, staging, no report): without
    --overwrite the directory is refused; with it, the result equals a clean run's and a
    user's file stays."""
    inp = tmp_path / "in"
    for i in range(3):
        _jsonl(inp / f"s{i}.jsonl", _records(30, seed=i))
    clean = tc.check(inp, tmp_path / "clean").report
    out = tmp_path / "out"
    tc.check(inp, out)
    # As if killed before the end: no report, the run file as the run started it ...
    (out / "report.json").unlink()
    run_file = json.loads((out / "run.json").read_text())
    (out / "run.json").write_text(json.dumps({**run_file, "finished": False}))
    (out / "_tmp" / "dead-run").mkdir(parents=True)  # ... with its staging left
    (out / "_tmp" / "dead-run" / "x.part").write_text("half")
    (out / "valid" / "stale-from-an-old-input.jsonl").parent.mkdir(exist_ok=True)
    (out / "notes.md").write_text("mine")
    with open(out / "_written", "a") as journal:
        journal.write("valid/stale-from-an-old-input.jsonl\n")
    (out / "valid" / "stale-from-an-old-input.jsonl").write_text("{}\n")
    with pytest.raises(tc.ToolcallsError, match="unfinished"):
        tc.check(inp, out)
    again = tc.check(inp, out, overwrite=True).report
    assert again["totals"] == clean["totals"]
    assert not (out / "valid" / "stale-from-an-old-input.jsonl").exists()
    assert not (out / "_tmp").exists()
    assert (out / "notes.md").read_text() == "mine"
    for f in (tmp_path / "clean").rglob("*.jsonl"):
        assert (out / f.relative_to(tmp_path / "clean")).read_bytes() == f.read_bytes()


# ---- 4. select refuses what it cannot decide ----


def test_select_refuses_an_unfinished_run(tmp_path: Path) -> None:
    inp, out = _filter_run(tmp_path)
    _jsonl(inp / "s9.jsonl", many_records(5))
    # A resumed run with one more shard, stopped after it took OUT (before phase 1 ended).
    run = Run.open([inp], out, None, {})
    run.prepare(overwrite=False)
    run.release()
    with pytest.raises(UsageError, match="unfinished run"):
        select_run(out, tmp_path / "sel", min_score=5)
    # Live: the lock of a running run.
    assert filter_main([str(inp), "-o", str(out), "-q"]) == 0
    lock = RunLock(out)
    lock.acquire()
    try:
        with pytest.raises(UsageError, match="in use"):
            select_run(out, tmp_path / "sel", min_score=5)
    finally:
        lock.release()
    assert select_run(out, tmp_path / "sel", min_score=5)["totals"]["failed"] == 0


def test_select_refuses_a_run_with_a_failed_shard(tmp_path: Path) -> None:
    inp = tmp_path / "in"
    _jsonl(inp / "good.jsonl", many_records(10))
    (inp / "bad.jsonl.gz").write_bytes(gzip.compress(b'{"text": "x"}\n' * 100)[:40])
    out = tmp_path / "out"
    assert filter_main([str(inp), "-o", str(out), "-q"]) == 1
    with pytest.raises(UsageError, match=r"1 shard\(s\) .* failed .*bad.jsonl.gz"):
        select_run(out, tmp_path / "sel", min_score=5)


def test_select_from_another_directory_and_a_deleted_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inp = tmp_path / "work" / "in"
    for i in range(2):
        _jsonl(inp / f"s{i}.jsonl", many_records(10 + i))
    monkeypatch.chdir(tmp_path / "work")
    fastscan.filter_shards("in", "out")  # relative paths
    monkeypatch.chdir(tmp_path)
    report = select_run(tmp_path / "work" / "out", tmp_path / "sel", min_score=5)
    assert report["totals"]["failed"] == 0
    (inp / "s1.jsonl").unlink()
    report = select_run(tmp_path / "work" / "out", tmp_path / "sel2", min_score=5)
    failed = [s for s in report["shards"] if s["status"] == "failed"]
    assert [s["relative"] for s in failed] == ["s1.jsonl"]
    assert "not found" in failed[0]["error"]
    assert "changed" not in failed[0]["error"]


def test_a_truncated_scores_file_is_named_and_rescored(tmp_path: Path) -> None:
    inp, out = _filter_run(tmp_path)
    clean = tmp_path / "clean"
    fastscan.filter_shards(inp, clean)
    scores = out / "scores" / "s1.jsonl.parquet"
    scores.write_bytes(scores.read_bytes()[:-20])
    with pytest.raises(UsageError, match=r"s1\.jsonl\.parquet"):
        select_run(out, tmp_path / "sel", min_score=5)
    report = fastscan.filter_shards(inp, out)
    rescored = [s["relative"] for s in report["shards"] if s.get("scanned")]
    assert rescored == ["s1.jsonl"]
    for f in (clean / "kept").rglob("*"):
        if f.is_file():
            assert (out / f.relative_to(clean)).read_bytes() == f.read_bytes()


# ---- 5. one bad file fails alone in extract ----


def test_extract_a_bad_file_fails_alone(tmp_path: Path) -> None:
    docs = [{"text": f'def f{i}(x: int) -> str:\n    """Doc {i}."""\n'} for i in range(30)]
    good = tmp_path / "in" / "good.jsonl"
    _jsonl(good, docs)
    (tmp_path / "in" / "cut.jsonl.gz").write_bytes(
        gzip.compress(b"".join(json.dumps(d).encode() + b"\n" for d in docs * 50))[:300]
    )
    (tmp_path / "in" / "bad.parquet").write_bytes(b"PAR1 not really")
    out = tmp_path / "out"
    assert fastscan_main(["extract", str(tmp_path / "in"), "-o", str(out)]) == 1
    report = json.loads((out / "report.json").read_text())
    errors = {Path(f["file"]).name: f.get("error") for f in report["files"]}
    assert errors["good.jsonl"] is None
    assert errors["cut.jsonl.gz"]
    assert errors["bad.parquet"]
    assert report["failed"] == 2
    alone = tc.extract(good, tmp_path / "alone").report
    assert report["specs"] == alone["specs"] == 30
    assert (out / "tools.jsonl").read_bytes().count(b"\n") == 30


# ---- 6. bounded cost ----


@pytest.mark.parametrize(
    "args",
    [
        ["fastscan-filter", "in", "-o", "o"],
        ["toolcalls", "check", "in"],
        ["toolcalls", "convert", "in", "--to", "hermes", "-o", "o"],
        ["extract", "in", "-o", "o"],
        ["scan", "in"],
        ["select", "run", "-o", "o"],
    ],
)
@pytest.mark.parametrize("threads", ["-1", "0", "two"])
def test_a_bad_thread_count_is_a_usage_error(
    args: list[str], threads: str, capsys: pytest.CaptureFixture[str]
) -> None:
    if args[0] == "fastscan-filter":
        main, argv = filter_main, args[1:]
    else:
        main, argv = fastscan_main, args
    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--threads", threads])
    assert exit_.value.code == 2
    assert "positive number of threads" in capsys.readouterr().err


def test_thread_counts_are_bounded() -> None:
    with pytest.raises(ValueError, match="per CPU"):
        fastscan.Scanner(threads=10_000)
    with pytest.raises(ValueError, match="per CPU"):
        tc.check_records([], threads=10_000)


def test_a_row_group_too_large_fails_its_file_with_a_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import fastscan.filter.plan as plan_module

    monkeypatch.setattr(plan_module, "MAX_ROW_GROUP_BYTES", 2000)
    records = many_records(40)
    write_parquet(tmp_path / "in" / "big.parquet", records, row_group_size=40)
    write_parquet(tmp_path / "in" / "small.parquet", records[:3], row_group_size=1)
    report = fastscan.filter_shards(tmp_path / "in", tmp_path / "out")
    errors = {s["relative"]: s["error"] for s in report["shards"]}
    assert "row group 0" in errors["big.parquet"]
    assert "MiB" in errors["big.parquet"]
    assert errors["small.parquet"] is None
    checked = tc.check(tmp_path / "in", tmp_path / "chk").report
    assert "row group 0" in next(f["error"] for f in checked["files"] if "big" in f["file"])


# ---- 7. values, not storage ----


def test_parquet_rows_are_judged_as_the_records_they_store(tmp_path: Path) -> None:
    tools = [
        {"type": "function", "function": {"name": "weather", "parameters": {
            "type": "object", "properties": {"city": {"type": "string"}},
            "required": ["city"]}}},
        {"type": "function", "function": {"name": "add", "description": "sum", "parameters": {
            "type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
            "required": ["a"]}}},
    ]  # fmt: skip
    call = {"id": "c1", "type": "function", "function": {"name": "add", "arguments": '{"a": 1}'}}
    records = [
        {
            "messages": [
                {"role": "user", "content": "add"},
                {"role": "assistant", "tool_calls": [call]},
            ],
            "tools": tools,
            "score": math.nan if i % 2 else 0.5,
        }
        for i in range(6)
    ]
    jsonl = tmp_path / "a.jsonl"
    jsonl.write_text("".join(json.dumps(r).replace("NaN", "null") + "\n" for r in records))
    pq.write_table(pa.Table.from_pylist(records), tmp_path / "a.parquet")
    as_jsonl = tc.check(jsonl).report["totals"]
    as_parquet = tc.check(tmp_path / "a.parquet").report["totals"]
    assert as_jsonl == as_parquet
    assert as_parquet["valid"] == 6


@pytest.mark.parametrize(
    "settings",
    [
        {"stats": {"min": {"alpha_frac": math.nan}}},
        {"stats": {"max": {"alpha_frac": math.inf}}},
        {"static": {"gold": "tool-use", "min_similarity": math.nan}},
    ],
)
def test_nan_bounds_are_refused(settings: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match="finite number"):
        FilterConfig.resolve(None, **settings)


def test_the_journal_and_staging_never_leak_into_listed_outputs(tmp_path: Path) -> None:
    _jsonl(tmp_path / "in" / "a.jsonl", _records(10, seed=1))
    report = tc.check(tmp_path / "in", tmp_path / "out").report
    for rel in report["outputs"]:
        assert (tmp_path / "out" / rel).is_file()
    names = sorted(os.listdir(tmp_path / "out"))
    assert "_tmp" not in names
    assert "_lock" not in names
    assert json.loads((tmp_path / "out" / "run.json").read_text())["finished"] is True


# ---- the property: refused at plan time, or every record accounted for exactly once ----

NAMES = ["x", "y", "rejects/x", "converted/x", "valid/x", "kept/x", "sub/x", "not_converted/y"]
SUFFIXES = [".jsonl", ".jsonl.gz", ".jsonl.zst", ".parquet"]


def _write_input(path: Path, ids: list[str]) -> None:
    texts = many_records(len(ids))
    records = [{"id": i, "text": t["text"], "messages": [{"role": "user", "content": i}]}
               for i, t in zip(ids, texts, strict=True)]  # fmt: skip
    if path.name.endswith(".parquet"):
        write_parquet(path, records, row_group_size=3)
    else:
        _jsonl(path, records)


def _ids_in(path: Path) -> list[str]:
    """The ids of the input records a file holds (records verbatim, or a reject's line)."""
    if path.name.endswith(".parquet"):
        rows = pq.read_table(path).to_pylist()
    else:
        rows = [json.loads(line) for line in _lines(path)]
    out = []
    for row in rows:
        if "line" in row and "reason" in row:
            row = json.loads(row["line"])
        out.append(row["id"])
    return out


def _snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@settings(max_examples=20, deadline=None)
@given(
    files=st.lists(
        st.tuples(st.sampled_from(NAMES), st.sampled_from(SUFFIXES), st.integers(0, 6)),
        min_size=1,
        max_size=5,
        unique_by=lambda t: t[0] + t[1],
    ),
    where=st.sampled_from(["outside", "inside", "the input", "beside a file"]),
    earlier=st.booleans(),
    command=st.sampled_from(["check", "convert", "filter"]),
)
def test_every_command_refuses_or_accounts_for_every_record(
    tmp_path_factory: pytest.TempPathFactory,
    files: list[tuple[str, str, int]],
    where: str,
    earlier: bool,
    command: str,
) -> None:
    root = tmp_path_factory.mktemp("tree")
    inp = root / "in"
    expected: list[str] = []
    for k, (name, suffix, n) in enumerate(files):
        ids = [f"{k}-{i}" for i in range(n)]
        _write_input(inp / (name + suffix), ids)
        expected += ids
    if earlier:  # an earlier run's outputs inside the inputs
        tc.check(inp, inp / "earlier")
    inputs = _snapshot(inp)
    out = {
        "outside": root / "out",
        "inside": inp / "out",
        "the input": inp,
        "beside a file": inp / "sub" / "out",
    }[where]
    before = _snapshot(out) if out.exists() else None
    try:
        if command == "check":
            report = tc.check(inp, out).report
        elif command == "convert":
            report = tc.convert(inp, "sharegpt", out, allow=[c for c, _ in tc.LOSSES]).report
        else:
            report = fastscan.filter_shards(inp, out, id_field="id", min_score=0.5)
    except (tc.ToolcallsError, UsageError):
        assert where == "the input"  # the only plan this tree can refuse
        assert (_snapshot(out) if out.exists() else None) == before
        return
    after = _snapshot(inp)
    assert {k: v for k, v in after.items() if k in inputs} == inputs  # no input touched
    if command == "check":
        assert report["totals"]["read"] == len(expected)
        found = []
        for kind in ("valid", "invalid", "rejects"):
            for f in (out / kind).rglob("*") if (out / kind).exists() else []:
                if f.is_file():
                    found += _ids_in(f)
        assert sorted(found) == sorted(expected)
    elif command == "convert":
        t = report["totals"]
        assert t["read"] == len(expected) == t["converted"] + t["not_converted"] + t["rejected"]
        lines = sum(
            len(_lines(f))
            for kind in ("converted", "not_converted", "rejects")
            for f in ((out / kind).rglob("*") if (out / kind).exists() else [])
            if f.is_file()
        )
        assert lines == len(expected)
    else:
        t = report["totals"]
        assert t["read"]["docs"] == len(expected)
        ids = []
        for f in (out / "scores").rglob("*.parquet"):
            ids += pq.read_table(f, columns=["id"]).column("id").to_pylist()
        assert sorted(ids) == sorted(expected)


def test_the_dry_run_reports_what_is_done(tmp_path: Path) -> None:
    inp, out = _filter_run(tmp_path, n=4)
    (out / "_done" / "s1.jsonl.json").unlink()  # scored, not decided (killed in phase 2)
    (out / "_scored" / "s2.jsonl.json").unlink()
    (out / "_done" / "s2.jsonl.json").unlink()  # neither
    plan_ = fastscan.filter_shards(inp, out, dry_run=True)
    status = {r["relative"]: r["status"] for r in plan_["shards"]}
    assert status == {
        "s0.jsonl": "done",
        "s1.jsonl": "scored",
        "s2.jsonl": "pending",
        "s3.jsonl": "done",
    }
    assert (plan_["totals"]["done"], plan_["totals"]["scored"], plan_["totals"]["pending"]) == (
        2,
        1,
        1,
    )


def test_a_command_never_takes_over_another_commands_directory(tmp_path: Path) -> None:
    inp, out = _filter_run(tmp_path)
    # A filter run from before run.json named its command: it is still the filter's.
    record = json.loads((out / "run.json").read_text())
    record.pop("command")
    (out / "run.json").write_text(json.dumps(record))
    report = (out / "report.json").read_bytes()
    with pytest.raises(tc.ToolcallsError, match="holds a fastscan-filter run"):
        tc.check(inp, out, overwrite=True)
    assert (out / "report.json").read_bytes() == report
    checked = tmp_path / "checked"
    _jsonl(tmp_path / "tc" / "a.jsonl", _records(5, seed=1))
    tc.check(tmp_path / "tc", checked)
    with pytest.raises(UsageError, match="holds a toolcalls check run"):
        fastscan.filter_shards(inp, checked, overwrite=True)
    with pytest.raises(tc.ToolcallsError, match="holds a toolcalls check run"):
        tc.convert(tmp_path / "tc", "hermes", checked, overwrite=True)
