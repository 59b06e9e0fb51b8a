"""Tool-call datasets: reading every format, the checker's rules, call modes, conversion with
named losses, the file runs' accounting and outputs, and bad input."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import fastscan.toolcalls as tc
from fastscan.cli import main as fastscan_main
from fastscan.toolcalls.synthetic import INJECTABLE, dataset, random_record
from toolcall_formats import FIXTURES, PARTS, SYSTEM, SYSTEM_TEXT, TOOL_OPENAI, expected_canonical


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_each_format_is_detected_and_read(name: str) -> None:
    fmt, record = tc.canonical(FIXTURES[name])
    assert fmt == name
    assert record == expected_canonical(PARTS[name], SYSTEM_TEXT.get(name, SYSTEM))
    # Read as the format named explicitly too.
    assert tc.canonical(FIXTURES[name], name)[1] == record


@pytest.mark.parametrize("source", sorted(FIXTURES))
@pytest.mark.parametrize("target", sorted(FIXTURES))
def test_fixture_pairs_convert_and_round_trip(source: str, target: str) -> None:
    # Formats without a system prompt / results refuse the whole conversation, by name.
    res = tc.convert_records([FIXTURES[source]], target, from_format=source).records.to_pylist()[0]
    if target == "xlam" and PARTS[source] != PARTS["xlam"]:
        assert res["status"] == "not_converted"
        assert res["reason"] in ("system_prompt", "tool_responses", "multi_turn")
        return
    assert res["status"] == "converted", res
    want = expected_canonical(PARTS[source], SYSTEM_TEXT.get(source, SYSTEM))
    assert tc.canonical(res["output"], target)[1] == want
    back = tc.convert_records([res["output"]], source, from_format=target).records.to_pylist()[0]
    assert back["status"] == "converted", back
    assert tc.canonical(back["output"], source)[1] == want


# ---- the checker: one table per rule, passing and failing cases ----

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "f",
            "parameters": {
                "type": "object",
                "properties": {
                    "n": {"type": "integer"},
                    "x": {"type": "number"},
                    "b": {"type": "boolean"},
                    "u": {"type": "string", "enum": ["c", "f"]},
                    "l": {"type": "array", "items": {"type": "integer"}},
                    "o": {
                        "type": "object",
                        "properties": {"id": {"type": "integer"}},
                        "required": ["id"],
                    },
                    "free": {"type": "object", "additionalProperties": True},
                },
                "required": ["n"],
            },
        },
    },
]


def _call(args: Any, *, name: str = "f", tools: Any = None, encode: bool = True) -> dict[str, Any]:
    return {
        "tools": TOOLS if tools is None else tools,
        "messages": [
            {"role": "user", "content": "q"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {
                            "name": name,
                            "arguments": json.dumps(args) if encode else args,
                        },
                    }
                ],
            },
        ],
    }


def _rules(record: Any) -> list[str]:
    result = tc.check_records([record])
    return sorted(result.violations.column("rule").to_pylist())


CASES: list[tuple[str, Any, list[str]]] = [
    ("valid", _call({"n": 1, "x": 2.5, "b": False, "u": "c", "l": [1, 2], "o": {"id": 3}}), []),
    ("an integer is a number", _call({"n": 1, "x": 2}), []),
    ("falsy values are checked too", _call({"n": 0, "b": False, "l": []}), []),
    ("open objects take any key", _call({"n": 1, "free": {"a": 1}}), []),
    ("unknown_tool", _call({"n": 1}, name="g"), ["unknown_tool"]),
    ("unknown_argument", _call({"n": 1, "zz": 1}), ["unknown_argument"]),
    ("unknown nested argument", _call({"n": 1, "o": {"id": 1, "zz": 2}}), ["unknown_argument"]),
    ("missing_required", _call({"x": 1.0}), ["missing_required"]),
    ("missing nested required", _call({"n": 1, "o": {}}), ["missing_required"]),
    ("a boolean is not an integer", _call({"n": True}), ["type_mismatch"]),
    ("1.0 is not an integer", _call({"n": 1.0}), ["type_mismatch"]),
    ("a string is not a number", _call({"n": 1, "x": "2"}), ["type_mismatch"]),
    ("array items are checked", _call({"n": 1, "l": [1, "2"]}), ["type_mismatch"]),
    ("nested types are checked", _call({"n": 1, "o": {"id": "1"}}), ["type_mismatch"]),
    ("enum_mismatch", _call({"n": 1, "u": "k"}), ["enum_mismatch"]),
    ("invalid_arguments", _call('{"n": 1', encode=False), ["invalid_arguments"]),
    ("arguments not an object", _call([1]), ["invalid_arguments"]),
    ("arguments_encoding", _call({"n": 1}, encode=False), ["arguments_encoding"]),
    ("empty_tool_name", _call({}, name=""), ["empty_tool_name"]),
    (
        "malformed_schema",
        _call(
            {"n": 1},
            tools=[
                {
                    "type": "function",
                    "function": {
                        "name": "f",
                        "parameters": {"type": "object", "properties": {"n": {"type": "widget"}}},
                    },
                }
            ],
        ),
        ["malformed_schema"],
    ),
    (
        "required names a missing property",
        _call(
            {},
            tools=[
                {
                    "type": "function",
                    "function": {
                        "name": "f",
                        "parameters": {"type": "object", "properties": {}, "required": ["q"]},
                    },
                }
            ],
        ),
        ["malformed_schema"],
    ),
    (
        "parameters not an object",
        _call({}, tools=[{"name": "f", "parameters": [1]}]),
        ["malformed_schema"],
    ),
]


@pytest.mark.parametrize(("label", "record", "rules"), CASES, ids=[c[0] for c in CASES])
def test_rule_table(label: str, record: Any, rules: list[str]) -> None:
    assert _rules(record) == rules


def test_ids_and_responses() -> None:
    base = _call({"n": 1})
    dup = json.loads(json.dumps(base))
    dup["messages"][1]["tool_calls"].append(dup["messages"][1]["tool_calls"][0])
    assert _rules(dup) == ["duplicate_call_id"]
    ok = json.loads(json.dumps(base))
    ok["messages"].append({"role": "tool", "tool_call_id": "c1", "content": "1"})
    assert _rules(ok) == []
    orphan = json.loads(json.dumps(ok))
    orphan["messages"].append({"role": "tool", "tool_call_id": "c9", "content": "1"})
    assert _rules(orphan) == ["orphan_tool_response"]
    # Without ids: a response needs a call before it.
    early = {"messages": [{"role": "user", "content": "q"}, {"role": "tool", "content": "1"}]}
    assert _rules(early) == ["orphan_tool_response"]


def test_type_spellings_of_real_datasets() -> None:
    cases = {
        "str, optional": ({"type": "string"}, True),
        "List[str]": ({"type": "array", "items": {"type": "string"}}, False),
        "Optional[int]": ({"type": "integer"}, True),
        "dict": ({"type": "object"}, False),
        "float": ({"type": "number"}, False),
        "tuple": ({"type": "array"}, False),
        "any": ({}, False),
        "String": ({"type": "string"}, False),
        "HashMap": ({"type": "object"}, False),
        "long": ({"type": "integer"}, False),
        "Boolean": ({"type": "boolean"}, False),
        "ArrayList": ({"type": "array"}, False),
        "Union[str, int]": ({"type": ["string", "integer"]}, False),
        "str | None": ({"type": "string"}, True),
        "int[]": ({"type": "array", "items": {"type": "integer"}}, False),
        # xLAM and docstrings: a default makes the parameter optional, whatever it holds.
        "str, default='x'": ({"type": "string"}, True),
        "int, default: 3": ({"type": "integer"}, True),
        "str, optional, default='a, b'": ({"type": "string"}, True),
        "List[int], default=[1, 2]": ({"type": "array", "items": {"type": "integer"}}, True),
    }
    for spelling, want in cases.items():
        assert tc.normalize_type(spelling) == want, spelling
    assert tc.normalize_type("widget") is None
    assert tc.normalize_type("str, widget") is None  # not a qualifier: not a known spelling
    # BFCL-style specs check like JSON Schema ones.
    bfcl = [
        {
            "name": "f",
            "parameters": {
                "type": "dict",
                "properties": {
                    "a": {"type": "float"},
                    "t": {"type": "tuple", "items": {"type": "integer"}},
                    "any": {"type": "any"},
                },
                "required": ["a"],
            },
        }
    ]
    assert _rules(_call({"a": 1, "t": [1], "any": {"k": None}}, tools=bfcl)) == []
    assert _rules(_call({"a": True}, tools=bfcl)) == ["type_mismatch"]


def test_tools_listed_in_the_system_prompt_are_the_tools_offered() -> None:
    """ToolACE's ShareGPT release: ``"tools": "[]"`` and the JSON tool list in ``system``."""
    tools = [
        {
            "name": "get_weather",
            "description": "Weather for a city.",
            "parameters": {
                "type": "dict",
                "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
                "required": ["city"],
            },
        }
    ]
    system = (
        "You are an expert in composing functions. Here is a list of functions in JSON "
        f"format that you can invoke:\n{json.dumps(tools)}\nShould you decide to call one..."
    )

    def record(call: str) -> dict[str, Any]:
        return {
            "system": system,
            "tools": "[]",
            "conversations": [
                {"from": "human", "value": "Weather in Paris?"},
                {"from": "gpt", "value": call},
            ],
        }

    checked = tc.check_records(
        [record("[get_weather(city='Paris')]"), record("[get_weather(days=2)]")]
    )
    rows = checked.records.to_pylist()
    assert [r["status"] for r in rows] == ["valid", "invalid"]
    assert checked.violations.column("rule").to_pylist() == ["missing_required"]
    # The same with no tools field at all.
    bare = record("[get_weather(city='Paris')]")
    del bare["tools"]
    assert tc.check_records([bare]).records.column("status").to_pylist() == ["valid"]


def test_every_injected_error_is_found_and_clean_records_pass() -> None:
    data = dataset(600, seed=3, error_rate=0.5)
    result = tc.check_records([r for r, _ in data])
    found: dict[int, list[str]] = {}
    for row in result.violations.to_pylist():
        found.setdefault(row["record"], []).append(row["rule"])
    for i, (_, injected) in enumerate(data):
        if injected is None:
            assert i not in found, (i, found.get(i))
        else:
            assert set(found.get(i, [])) == {injected}, (i, injected, found.get(i))
    assert {rule for _, rule in data if rule} == set(INJECTABLE)


def test_modes() -> None:
    rng = random.Random(0)
    rec = random_record(rng)
    assert tc.check_records([rec]).records.column("mode")[0].as_py() in (
        "single",
        "parallel",
        "multiple",
    )
    no_call = {
        "tools": TOOLS,
        "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}],
    }
    ask = {
        "tools": [TOOL_OPENAI],
        "messages": [
            {"role": "user", "content": "Weather please"},
            {"role": "assistant", "content": "Which city do you mean?"},
        ],
    }
    par = _call({"n": 1})
    par["messages"][1]["tool_calls"].append(
        {"id": "c2", "type": "function", "function": {"name": "f", "arguments": '{"n": 2}'}}
    )
    dep = {
        "tools": TOOLS,
        "messages": [
            {"role": "user", "content": "q"},
            {
                "role": "assistant",
                "tool_calls": [
                    {
                        "id": "a",
                        "type": "function",
                        "function": {"name": "f", "arguments": '{"n": 1}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "a", "content": '{"order": 4711}'},
            {
                "role": "assistant",
                "tool_calls": [
                    {
                        "id": "b",
                        "type": "function",
                        "function": {"name": "f", "arguments": '{"n": 4711}'},
                    }
                ],
            },
        ],
    }
    modes = (
        tc.check_records([no_call, ask, par, dep, _call({"n": 1})])
        .records.column("mode")
        .to_pylist()
    )
    assert modes == ["no_tool_use", "miss_param", "parallel", "dependent", "single"]


# ---- conversion ----


def test_a_loss_is_refused_by_name_then_allowed_and_counted() -> None:
    rec = random_record(random.Random(5))  # OpenAI with call ids
    res = tc.convert_records([rec], "sharegpt")
    row = res.records.to_pylist()[0]
    assert (row["status"], row["reason"], row["output"]) == ("not_converted", "call_ids", None)
    res = tc.convert_records([rec], "sharegpt", allow=["call_ids"])
    row = res.records.to_pylist()[0]
    assert row["status"] == "converted"
    assert row["lost"] == ["call_ids"]
    assert res.report["lost"] == {"call_ids": 1}
    with pytest.raises(ValueError, match="unknown loss"):
        tc.convert_records([rec], "sharegpt", allow=["ids"])


def test_arguments_are_never_double_encoded() -> None:
    rec = _call({"n": 1, "u": "c"})
    out = (
        tc.convert_records([rec], "hermes", allow=["call_ids"]).records.column("output")[0].as_py()
    )
    gpt = next(t["value"] for t in json.loads(out)["conversations"] if t["from"] == "gpt")
    call = json.loads(gpt.split("<tool_call>")[1].split("</tool_call>")[0])
    assert call["arguments"] == {"n": 1, "u": "c"}  # an object, as Hermes defines
    back = tc.convert_records([out], "openai").records.column("output")[0].as_py()
    args = json.loads(back)["messages"][1]["tool_calls"][0]["function"]["arguments"]
    assert isinstance(args, str)  # one JSON string
    assert json.loads(args) == {"n": 1, "u": "c"}


def test_invalid_arguments_survive_conversion_as_written() -> None:
    rec = _call('{"n": 1', encode=False)
    for target in tc.FORMATS:
        row = tc.convert_records([rec], target, allow=["call_ids"]).records.to_pylist()[0]
        if row["status"] == "converted":
            _, canon = tc.canonical(row["output"], target)
            assert canon["messages"][1]["calls"][0]["invalid_arguments"] == '{"n": 1', target
        else:
            assert row["reason"] in ("argument_values", "system_prompt"), (target, row)


# ---- files: accounting, outputs, compression, Parquet, bad input ----


def _write_jsonl(path: Path, lines: list[str]) -> None:
    data = ("\n".join(lines) + "\n").encode()
    if path.name.endswith(".gz"):
        data = gzip.compress(data)
    elif path.name.endswith(".zst"):
        data = pa.compress(data, "zstd", asbytes=True)
        # pyarrow's raw zstd frame is a valid .zst file.
    path.write_bytes(data)


def test_check_files_account_for_every_record(tmp_path: Path) -> None:
    data = dataset(300, seed=1, error_rate=0.3)
    lines = [json.dumps(r) for r, _ in data] + ["{not json", '{"x": 1}', ""]
    src = tmp_path / "in"
    src.mkdir()
    _write_jsonl(src / "a.jsonl.gz", lines[:150])
    _write_jsonl(src / "b.jsonl", lines[150:])
    out = tmp_path / "out"
    rc = fastscan_main(["toolcalls", "check", str(src), "-o", str(out)])
    assert rc == 0
    report = json.loads((out / "report.json").read_text())
    t = report["totals"]
    assert t["read"] == 302
    assert t["read"] == t["valid"] + t["invalid"] + t["rejected"]
    assert t["rejected"] == 2
    assert report["rejects"] == {"unparseable_json": 1, "unknown_format": 1}
    injected = sum(1 for _, r in data if r)
    assert t["invalid"] == injected
    with gzip.open(out / "valid" / "a.jsonl.gz", "rt") as fh:
        valid_a = fh.read().splitlines()
    invalid_b = (out / "invalid" / "b.jsonl").read_text().splitlines()
    assert all(line in lines for line in valid_a + invalid_b)  # verbatim
    v = pq.read_table(out / "violations.parquet")
    assert set(v.column_names) >= {"file", "record", "rule", "path", "message"}
    assert v.num_rows == sum(report["rules"].values())
    rejects = [json.loads(x) for x in (out / "rejects" / "b.jsonl").read_text().splitlines()]
    assert [r["reason"] for r in rejects] == ["unparseable_json", "unknown_format"]
    assert rejects[0]["record"] == 150  # 0-based index in b.jsonl
    # A second run refuses the directory; --overwrite replaces only what the run wrote.
    (out / "notes.md").write_text("mine")
    assert fastscan_main(["toolcalls", "check", str(src), "-o", str(out)]) == 2
    assert fastscan_main(["toolcalls", "check", str(src), "-o", str(out), "--overwrite"]) == 0
    assert (out / "notes.md").read_text() == "mine"
    assert json.loads((out / "report.json").read_text())["totals"] == t


def test_parquet_input_and_outputs(tmp_path: Path) -> None:
    data = dataset(100, seed=2, error_rate=0.3)
    xlam = tc.convert_records(
        [r for r, _ in data],
        "xlam",
        allow=["call_ids", "system_prompt", "tool_responses", "multi_turn"],
    )
    rows = [json.loads(o) for o in xlam.records.column("output").to_pylist() if o is not None]
    path = tmp_path / "set.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path, compression="snappy")
    result = tc.check(path, tmp_path / "out")
    t = result.report["totals"]
    assert t["read"] == len(rows) == t["valid"] + t["invalid"] + t["rejected"]
    valid = pq.read_table(tmp_path / "out" / "valid" / "set.parquet")
    assert valid.num_rows == t["valid"]
    assert valid.schema.equals(pq.read_schema(path))
    assert result.report["formats"] == {"xlam": len(rows)}
    # With an output directory the tables stay on disk, not in memory.
    assert result.records.num_rows == result.violations.num_rows == 0
    on_disk = pq.read_table(tmp_path / "out" / "violations.parquet")
    assert on_disk.num_rows == sum(result.report["rules"].values()) > 0
    conv = tc.convert(path, "openai", tmp_path / "conv")
    assert conv.report["totals"]["converted"] == len(rows)
    assert (tmp_path / "conv" / "converted" / "set.parquet.jsonl.zst").exists()


def test_bad_input_gives_rejects_or_violations_never_a_crash(tmp_path: Path) -> None:
    huge = json.dumps({"city": "x" * (10 << 20)})
    rec = _call(huge, encode=False)
    cases = [
        '{"messages": [',  # truncated
        '{"messages": "nope"}',
        '{"messages": [{"role": 5}]}',
        '{"messages": [{"role": "assistant", "tool_calls": '
        '[{"function": {"name": 5, "arguments": []}}]}]}',
        '{"tools": "not json", "conversations": []}',
        '{"query": 1, "answers": "[{]"}',
        '{"chat": "ASSISTANT: <functioncall> {broken", "system": "SYSTEM: x"}',
        '{"yaml": "a: [unclosed"}',
        '{"conversations": [{"from": "assistant", "value": "[f(1)]"}], '
        '"system": "[{\\"name\\": 1}]"}',
        json.dumps(rec),
        "[]",
        "null",
        '"text"',
        "\ud800".encode("utf-8", "surrogatepass").decode("latin-1"),
    ]
    result = tc.check_records(cases)
    assert result.records.num_rows == len(cases)
    statuses = result.records.column("status").to_pylist()
    assert set(statuses) <= {"valid", "invalid", "rejected"}
    assert statuses[cases.index(json.dumps(rec))] == "invalid"  # 10 MB arguments: a violation
    for target in tc.FORMATS:
        conv = tc.convert_records(cases, target)
        assert conv.records.num_rows == len(cases)


def test_oversized_records_are_counted_rejects(tmp_path: Path) -> None:
    small = json.dumps(_call({"n": 1}))
    big = json.dumps(_call({"n": 1, "pad": "x" * 200}))
    path = tmp_path / "a.jsonl"
    path.write_text(big + "\n" + small + "\n")
    result = tc.check(path, tmp_path / "out", max_record_bytes=len(small) + 10)
    assert result.report["rejects"] == {"oversized": 1}
    assert result.report["totals"]["valid"] == 1


def test_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert fastscan_main(["toolcalls", "check", str(tmp_path / "missing.jsonl")]) == 2
    assert "not found" in capsys.readouterr().err
    (tmp_path / "a.jsonl").write_text("{}\n")
    assert (
        fastscan_main(
            [
                "toolcalls",
                "convert",
                str(tmp_path / "a.jsonl"),
                "--to",
                "hermes",
                "-o",
                str(tmp_path / "o"),
                "--allow-loss",
                "nope",
            ]
        )
        == 2
    )


def test_the_binding_names_an_unknown_format() -> None:
    from fastscan import _fastscan

    with pytest.raises(ValueError, match=r'unknown format "nope"'):
        _fastscan.ToolCalls().convert(pa.array(["{}"]), "nope")
