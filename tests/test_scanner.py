"""The Scanner API: input kinds, result schema, pickling, bad input."""

from __future__ import annotations

import pickle
from typing import Any

import pyarrow as pa
import pytest

import fastscan

DOCS = [
    '<tool_call>{"name": "f", "arguments": {"a": 1}}</tool_call>',
    "curl -X POST https://api.example.com/v1/items -H 'Content-Type: application/json'",
    "Plain prose about the weather, nothing else.",
    "",
    'def f(x):\n    """Add one.\n\n    Args:\n        x (int): a number.\n    """\n'
    "    return x + 1",
    "日本語のテキスト ☃",
]


@pytest.fixture(scope="module")
def scanner() -> fastscan.Scanner:
    return fastscan.Scanner("tool-use", threads=2)


@pytest.fixture(scope="module")
def expected(scanner: fastscan.Scanner) -> list[dict[str, Any]]:
    return [scanner.scan_one(d) for d in DOCS]


def test_schema(scanner: fastscan.Scanner) -> None:
    batch = scanner.scan(DOCS)
    assert isinstance(batch, pa.RecordBatch)
    assert batch.num_rows == len(DOCS)
    assert batch.schema.names == ["score", *scanner.group_names, "formats"]
    assert batch.schema.field("score").type == pa.float64()
    assert all(batch.schema.field(g).type == pa.uint32() for g in scanner.group_names)
    assert batch.schema.field("formats").type == pa.list_(pa.string())
    assert batch.schema.metadata == {b"fastscan.pack": b"tool-use"}


def test_rows_are_sensible(expected: list[dict[str, Any]]) -> None:
    assert expected[0]["formats"] == ["hermes", "xlam"]
    assert expected[0]["tool_call"] >= 3
    assert expected[1]["http"] >= 3
    assert expected[2]["score"] == 0.0
    assert expected[3]["score"] == 0.0
    assert expected[4]["api_doc"] >= 1
    assert expected[4]["docstring"] >= 1
    assert expected[5]["score"] == 0.0
    assert expected[0]["score"] > expected[1]["score"] > expected[2]["score"]


@pytest.mark.parametrize(
    "kind",
    [
        pa.string(),
        pa.large_string(),
        pa.string_view(),
        pa.binary(),
        pa.large_binary(),
        pa.binary_view(),
    ],
)
def test_arrow_inputs(
    scanner: fastscan.Scanner, expected: list[dict[str, Any]], kind: pa.DataType
) -> None:
    values: list[Any] = (
        DOCS
        if pa.types.is_string(kind) or kind in (pa.large_string(), pa.string_view())
        else [d.encode() for d in DOCS]
    )
    array = pa.array(values, type=kind)
    assert scanner.scan(array).to_pylist() == expected


def test_sliced_array_and_nulls(scanner: fastscan.Scanner, expected: list[dict[str, Any]]) -> None:
    array = pa.array(DOCS)
    assert scanner.scan(array.slice(2, 3)).to_pylist() == expected[2:5]
    with_nulls = pa.array([DOCS[0], None, DOCS[1]])
    rows = scanner.scan(with_nulls).to_pylist()
    assert rows[0] == expected[0]
    assert rows[2] == expected[1]
    assert rows[1] == scanner.scan_one("")


def test_chunked_array(scanner: fastscan.Scanner, expected: list[dict[str, Any]]) -> None:
    chunked = pa.chunked_array([DOCS[:2], DOCS[2:], []], type=pa.large_string())
    assert scanner.scan(chunked).to_pylist() == expected
    empty = scanner.scan(pa.chunked_array([], type=pa.string()))
    assert empty.num_rows == 0
    assert empty.schema == scanner.scan(DOCS).schema


def test_lists_of_mixed_and_generators(
    scanner: fastscan.Scanner, expected: list[dict[str, Any]]
) -> None:
    mixed: list[str | bytes] = [d.encode() if i % 2 else d for i, d in enumerate(DOCS)]
    assert scanner.scan(mixed).to_pylist() == expected
    assert scanner.scan(d for d in DOCS).to_pylist() == expected
    assert scanner.scan(tuple(DOCS)).to_pylist() == expected
    assert scanner.scan([]).num_rows == 0


def test_bad_inputs_raise_clear_errors(scanner: fastscan.Scanner) -> None:
    with pytest.raises(TypeError, match=r"texts\[1\] is int"):
        scanner.scan(["ok", 3])
    with pytest.raises(TypeError, match="scan_one"):
        scanner.scan("one string")
    with pytest.raises(TypeError, match="cannot scan an Arrow array of type Int64"):
        scanner.scan(pa.array([1, 2]))
    with pytest.raises(TypeError):
        scanner.scan_one(5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="cannot scan"):
        scanner.scan(42)


def test_invalid_utf8_and_large_documents(scanner: fastscan.Scanner) -> None:
    junk = b"\xff\xfe<tool_call>\xc3(" + b"\x80" * 100
    assert scanner.scan_one(junk)["tool_call"] == 1
    big = ("curl -X GET https://api.example.com/v1/x\n" * 50_000).encode()
    row = scanner.scan([big]).to_pylist()[0]
    assert row["http"] >= 100_000


def test_pattern_counts_column() -> None:
    scanner = fastscan.Scanner("tool-use", pattern_counts=True)
    batch = scanner.scan(DOCS)
    n = len(scanner.pack.patterns)
    kind = batch.schema.field("pattern_counts").type
    assert pa.types.is_fixed_size_list(kind)
    assert kind.list_size == n
    assert kind.value_type == pa.uint32()
    rows = batch.to_pylist()
    for row in rows:
        per_group: dict[str, int] = dict.fromkeys(scanner.group_names, 0)
        for pattern, count in zip(scanner.pack.patterns, row["pattern_counts"], strict=False):
            per_group[pattern.group] += count
        assert per_group == {g: row[g] for g in scanner.group_names}


def test_pickle_round_trip(scanner: fastscan.Scanner, expected: list[dict[str, Any]]) -> None:
    clone = pickle.loads(pickle.dumps(scanner))
    assert isinstance(clone, fastscan.Scanner)
    assert clone.scan(DOCS).to_pylist() == expected
    assert clone.threads == scanner.threads == 2
    custom = fastscan.Scanner(
        fastscan.PatternPack.from_dict({"group": [{"name": "g", "literals": ["x"]}]}),
        pattern_counts=True,
    )
    clone2 = pickle.loads(pickle.dumps(custom))
    assert clone2.scan_one("xx") == {
        "score": custom.scan_one("xx")["score"],
        "g": 2,
        "formats": [],
        "pattern_counts": [2],
    }


def test_repr(scanner: fastscan.Scanner) -> None:
    assert "tool-use" in repr(scanner)
    assert "threads=2" in repr(scanner)
