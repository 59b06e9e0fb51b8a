"""Metamorphic tests: the same tool-use content, serialized another way, is found the same.

Structured positives are built here (tool specs in the shapes datasets use, OpenAPI documents,
tool calls, function-calling benchmark items), embedded in prose, and rewritten by
`fastscan.variants` as compact / indented JSON, a Python literal, JSON escaped inside JSON
(one and two levels), YAML and renamed fields. Every variant must be kept by the default rule
as its JSON form is; on the JSON family (everything but YAML and renamed fields) the counts
of every folded-view group must be *equal*, since those spellings fold to the same bytes.
"""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa
import pytest

import fastscan
from fastscan import variants as fv
from fastscan.cascade import PatternStage

WEATHER = {
    "name": "get_weather",
    "description": "Current weather for a city.",
    "parameters": {
        "type": "object",
        "properties": {
            "city": {"type": "string", "description": "City name, e.g. Paris."},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        },
        "required": ["city"],
    },
}

STRUCTURES: dict[str, Any] = {
    "openai tools": [{"type": "function", "function": WEATHER}],
    "bfcl function doc": {
        "name": "geometry.circle_area",
        "description": "Calculate the area of a circle.",
        "parameters": {
            "type": "dict",
            "properties": {
                "radius": {"type": "float", "description": "The radius."},
                "units": {"type": "string", "description": "Units of the radius.", "default": "m"},
            },
            "required": ["radius"],
        },
    },
    "xlam flat parameters": [
        {
            "name": "search_flights",
            "description": "Find flights between two airports.",
            "parameters": {
                "origin": {"description": "IATA code.", "type": "str", "default": "SFO"},
                "max_stops": {"description": "At most this many stops.", "type": "int, optional"},
            },
        }
    ],
    "toolbench api list": {
        "api_list": [
            {
                "api_name": "convert_currency",
                "api_description": "Convert an amount.",
                "required_parameters": [{"name": "amount", "type": "NUMBER"}],
                "optional_parameters": [{"name": "to", "type": "STRING", "default": "EUR"}],
            }
        ]
    },
    "anthropic input_schema": [
        {
            "name": "lookup_order",
            "description": "Look up an order by id.",
            "input_schema": {
                "type": "object",
                "properties": {"order_id": {"type": "string"}},
                "required": ["order_id"],
            },
        }
    ],
    "openapi": {
        "openapi": "3.0.1",
        "info": {"title": "Pets", "version": "1"},
        "paths": {
            "/pets/{petId}": {
                "get": {
                    "operationId": "showPetById",
                    "parameters": [
                        {
                            "name": "petId",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                    ],
                    "responses": {"200": {"description": "A pet"}},
                }
            }
        },
    },
    "tool calls": [
        {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}},
        {"name": "get_time", "arguments": {"tz": "Europe/Paris"}},
    ],
    "openai assistant message": {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
            }
        ],
    },
    "json schema": {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {"id": {"type": "integer"}, "tags": {"type": "array"}},
        "required": ["id"],
        "additionalProperties": False,
    },
}


def _document(name: str, value: Any) -> str:
    return (
        f"Example ({name}). The assistant may use these definitions:\n\n"
        f"{json.dumps(value, indent=2)}\n\nAnswer the user's question with them."
    )


DOCUMENTS = {name: _document(name, value) for name, value in STRUCTURES.items()}
JSON_FAMILY = ("compact", "indented", "python", "escaped", "escaped2")


@pytest.fixture(scope="module")
def stage() -> PatternStage:
    return PatternStage(threads=1)


def _keep(stage: PatternStage, texts: list[str]) -> list[bool]:
    return [bool(k) for k in stage.apply(pa.array(texts, pa.large_string())).keep.to_pylist()]


@pytest.mark.parametrize("name", list(DOCUMENTS))
def test_every_variant_is_kept_as_its_json_form(stage: PatternStage, name: str) -> None:
    doc = DOCUMENTS[name]
    variants = fv.variants(doc)
    assert set(variants) == set(fv.VARIANTS)
    assert _keep(stage, [doc]) == [True]
    kept = dict(zip(variants, _keep(stage, list(variants.values())), strict=True))
    assert kept == dict.fromkeys(fv.VARIANTS, True)


@pytest.mark.parametrize("name", list(DOCUMENTS))
def test_folded_patterns_count_the_same_in_every_json_spelling(name: str) -> None:
    scanner = fastscan.Scanner(pattern_counts=True)
    folded = [p.id for p in scanner.pack.patterns if p.view == "folded"]
    variants = fv.variants(DOCUMENTS[name])
    rows = [scanner.scan_one(variants[v]) for v in JSON_FAMILY]
    want = [rows[0]["pattern_counts"][i] for i in folded]
    assert sum(want) > 0
    for v, row in zip(JSON_FAMILY, rows, strict=True):
        assert [row["pattern_counts"][i] for i in folded] == want, v


def test_the_old_surface_patterns_would_fail_this_suite() -> None:
    # The check has teeth: the same documents scanned by a pack that matches only the
    # double-quoted JSON spelling lose most non-JSON variants.
    surface = fastscan.PatternPack.from_dict(
        {
            "group": [
                {
                    "name": "schema",
                    "weight": 3.0,
                    "literals": ['"properties": {', '"required": [', '"type": "object"'],
                }
            ]
        }
    )
    stage = PatternStage(surface, threads=1)
    docs = [fv.rewrite(d, "python") for d in DOCUMENTS.values()]
    assert sum(_keep(stage, docs)) < len(docs) / 2


# Items in the format of the users' target benchmark (function calling built from BFCL): a
# function name, a description, a Python-literal parameter schema and an answer call. Written
# here from the public BFCL function-doc format; no evaluation item is copied.
FUNCTION_DOCS = [
    ("math.factorial", "Calculate the factorial of a number.", {"number": "integer"}, "number=5"),
    (
        "finance.compound_interest",
        "Compute compound interest on a principal.",
        {"principal": "float", "rate": "float", "years": "integer"},
        "principal=1000, rate=0.05, years=10",
    ),
    (
        "weather.get_forecast",
        "Get the forecast for a location.",
        {"location": "string", "days": "integer"},
        "location='Boston, MA', days=3",
    ),
    ("string.reverse", "Reverse a string.", {"text": "string"}, "text='hello'"),
    (
        "calendar.add_event",
        "Add an event to the calendar.",
        {"title": "string", "start": "string", "attendees": "array"},
        "title='Standup', start='09:00', attendees=['ana', 'li']",
    ),
]


def _item(name: str, description: str, params: dict[str, str], args: str, style: int) -> str:
    schema = {
        "type": "dict",
        "properties": {p: {"type": t, "description": f"The {p}."} for p, t in params.items()},
        "required": list(params),
    }
    doc = {"name": name, "description": description, "parameters": schema}
    if style == 0:
        return (
            f"Function: {name}\nDescription: {description}\nParameters: {schema!r}\n"
            f"Answer: {name}({args})"
        )
    if style == 1:
        return (
            f"Question: Which call uses the function correctly?\n{doc!r}\n"
            f"A. {name}({args})\nB. {name}()\nC. {name}_v2({args})\nD. {name}(value=None)\n"
            "Answer: A"
        )
    return f"Given the function {json.dumps(doc)}, the call is `{name}({args})`."


@pytest.mark.parametrize("style", [0, 1, 2])
def test_function_calling_benchmark_items_are_kept_by_default(
    stage: PatternStage, style: int
) -> None:
    items = [_item(*doc, style=style) for doc in FUNCTION_DOCS]
    assert _keep(stage, items) == [True] * len(items)
    # And by the lenient stage 1 of the shipped cascade (examples/cascade.toml).
    lenient = PatternStage(min_score=1.0, threads=1)
    assert _keep(lenient, items) == [True] * len(items)


def test_generic_code_alone_is_not_kept(stage: PatternStage) -> None:
    code = "\n".join(
        f"def step_{i}(values, key=None):\n    result = sorted(values, key=key)\n"
        f"    return [v * 2 for v in result]\n\n\nclass Node{i}:\n    def __init__(self):\n"
        f"        self.children = []\n"
        for i in range(20)
    )
    row = fastscan.Scanner().scan_one(code)
    assert row["code"] >= 15
    assert row["score"] == 0.0
    assert _keep(stage, [code]) == [False]


def test_structures_and_rewrites_leave_prose_alone() -> None:
    text = 'Before {"a": [1, 2], "b": {"c": "long enough value"}} after [1, 2] end.'
    found = fv.structures(text)
    assert [(s, e) for s, e, _ in found] == [(7, 53)]
    assert fv.rewrite(text, "python") == (
        "Before {'a': [1, 2], 'b': {'c': 'long enough value'}} after [1, 2] end."
    )
    assert fv.variants("no structure here [1, 2]") == {}
    assert json.loads(json.loads(fv.RENDERERS["escaped"](found[0][2]))) == found[0][2]


def test_invariance_table_counts_against_the_originals() -> None:
    docs = [*DOCUMENTS.values(), "plain prose, nothing to rewrite"]
    rows = fv.invariance_table(docs, lambda texts: ["tool_name" not in t for t in texts])
    by = {r["variant"]: r for r in rows}
    assert by["original"]["docs"] == len(DOCUMENTS)
    assert by["compact"]["ratio"] == 1.0
    # Only the renamed variant spells `tool_name`, so only it drops (where `name` occurs).
    assert by["renamed"]["kept"] < by["original"]["kept"]
    assert "| renamed |" in fv.table_text(rows)
