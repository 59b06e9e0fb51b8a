"""Tool-call checking and conversion speed, beside plain Python in the same run.

Generates (once, cached) a JSONL file of synthetic OpenAI-format records with about 10%
injected errors (``fastscan.toolcalls.synthetic``), then times on one thread:

* ``fastscan toolcalls check`` (writing valid/, invalid/, violations.parquet, report.json);
* ``fastscan toolcalls convert --to hermes`` (writing the converted file);
* plain Python: ``json.loads`` each record and ``jsonschema.validate(arguments, schema)`` per
  call (the one-call API most scripts use; timed on the first records, it is slow);
* the same with one Draft 2020-12 validator cached per distinct schema (a tuned script);
* plain Python ``json.loads`` alone (the floor of any Python pass).

Prints records/s and MB/s per core and the ratio to the ``jsonschema`` check, and the per-rule
counts next to the injected ones.

    python benches/toolcalls_speed.py --mb 200
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import jsonschema

import fastscan.toolcalls as tc
from fastscan.toolcalls.synthetic import dataset


def make_data(path: Path, mb: int) -> Counter[str]:
    """Writes records until `mb` MB; returns the injected rules (cached beside the file)."""
    meta = path.with_suffix(".injected.json")
    if path.exists() and meta.exists() and path.stat().st_size >= mb * 1_000_000:
        return Counter(json.loads(meta.read_text()))
    path.parent.mkdir(parents=True, exist_ok=True)
    injected: Counter[str] = Counter()
    size = 0
    seed = 0
    with path.open("w") as fh:
        while size < mb * 1_000_000:
            for record, rule in dataset(5000, seed=seed, error_rate=0.1):
                line = json.dumps(record) + "\n"
                fh.write(line)
                size += len(line)
                if rule:
                    injected[rule] += 1
            seed += 1
    meta.write_text(json.dumps(injected))
    return injected


def python_check(path: Path, cached: bool = True, limit: int | None = None) -> tuple[int, int]:
    """json.loads + jsonschema per call: (records, records with an error). `cached`: one
    Draft 2020-12 validator per distinct schema (a tuned script); else
    ``jsonschema.validate(args, schema)`` per call (the one-call API scripts use)."""
    validators: dict[str, Any] = {}
    records = bad = 0
    with path.open() as fh:
        for line in fh:
            if limit is not None and records == limit:
                break
            records += 1
            rec = json.loads(line)
            tools = {t["function"]["name"]: t["function"] for t in rec.get("tools", [])}
            ok = True
            for m in rec["messages"]:
                for c in m.get("tool_calls") or []:
                    fn = c["function"]
                    tool = tools.get(fn["name"])
                    if tool is None:
                        ok = False
                        continue
                    if not cached:
                        try:
                            args = fn["arguments"]
                            args = json.loads(args) if isinstance(args, str) else args
                            jsonschema.validate(args, tool["parameters"])
                        except (json.JSONDecodeError, jsonschema.exceptions.ValidationError):
                            ok = False
                        except jsonschema.exceptions.SchemaError:
                            ok = False
                        continue
                    key = json.dumps(tool["parameters"], sort_keys=True)
                    v = validators.get(key)
                    if v is None:
                        try:
                            v = validators[key] = jsonschema.Draft202012Validator(
                                tool["parameters"]
                            )
                        except jsonschema.SchemaError:
                            ok = False
                            continue
                    try:
                        args = fn["arguments"]
                        args = json.loads(args) if isinstance(args, str) else args
                    except json.JSONDecodeError:
                        ok = False
                        continue
                    try:
                        if not v.is_valid(args):
                            ok = False
                    except jsonschema.exceptions.UnknownType:
                        ok = False
            bad += not ok
    return records, bad


def python_parse(path: Path) -> int:
    n = 0
    with path.open() as fh:
        for line in fh:
            json.loads(line)
            n += 1
    return n


def timed(fn: Any, repeat: int = 1) -> tuple[float, Any]:
    """The best of `repeat` runs (the input is in the page cache after the first)."""
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--mb", type=int, default=200, help="size of the generated set (MB)")
    ap.add_argument("--data", type=Path, default=Path("bench-data/toolcalls/openai.jsonl"))
    ap.add_argument(
        "--validate-records",
        type=int,
        default=3000,
        help="records timed for the (slow) jsonschema.validate pass",
    )
    args = ap.parse_args()
    injected = make_data(args.data, args.mb)
    size = args.data.stat().st_size / 1e6
    work = Path(tempfile.mkdtemp(prefix="fastscan-toolcalls-"))
    try:
        rows = []
        python_parse(args.data)  # warm the page cache
        t_check, check = timed(
            lambda: tc.check(args.data, work / "check", threads=1, overwrite=True), repeat=2
        )
        n = check.report["totals"]["read"]
        rows.append(("fastscan toolcalls check (1 thread)", t_check))
        t_conv, conv = timed(
            lambda: tc.convert(
                args.data, "hermes", work / "conv", threads=1, allow=["call_ids"], overwrite=True
            ),
            repeat=2,
        )
        rows.append(("fastscan toolcalls convert --to hermes (1 thread)", t_conv))
        t_py, (py_n, py_bad) = timed(lambda: python_check(args.data))
        rows.append(("Python json + jsonschema, cached validators", t_py))
        t_two, _ = timed(lambda: tc.check(args.data, work / "check2", threads=2, overwrite=True))
        rows.insert(1, ("fastscan toolcalls check (2 threads)", t_two))
        few = min(n, args.validate_records)
        t_validate, _ = timed(lambda: python_check(args.data, cached=False, limit=few))
        # Timed on the first `few` records; scaled to the whole set for the table.
        rows.append((f"Python json + jsonschema.validate ({few:,} records)", t_validate * n / few))
        t_parse, _ = timed(lambda: python_parse(args.data))
        rows.append(("Python json.loads only", t_parse))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{n:,} records, {size:,.0f} MB ({args.data})\n")
    head = f"| {'pass':<55} | {'records/s':>10} | {'MB/s':>7} | {'vs validate':>11} |"
    print(head + f" {'vs cached':>9} |")
    print(f"|{'-' * 57}|{'-' * 11}:|{'-' * 8}:|{'-' * 12}:|{'-' * 10}:|")
    for name, t in rows:
        print(
            f"| {name:<55} | {n / t:>10,.0f} | {size / t:>7.1f} "
            f"| {t_validate * n / few / t:>10.1f}x | {t_py / t:>8.1f}x |"
        )
    report = check.report
    print(
        f"\ninvalid: fastscan {report['totals']['invalid']:,}, jsonschema script {py_bad:,}, "
        f"injected {sum(injected.values()):,}"
    )
    print(
        f"converted {conv.report['totals']['converted']:,}, "
        f"not converted {conv.report['not_converted']}"
    )
    print("\n| rule | injected | found |")
    print("|---|---:|---:|")
    for code, found in report["rules"].items():
        print(f"| {code} | {injected.get(code, 0):,} | {found:,} |")
    assert py_n == n


if __name__ == "__main__":
    main()
