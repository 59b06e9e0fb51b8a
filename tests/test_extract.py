"""fastscan extract: one table of fixtures per extractor (written from the formats' public
descriptions), a round trip from random tools through every spec renderer, emitted records
that pass the checker, and bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

import fastscan
import fastscan.toolcalls as tc

OPENAPI = {
    "openapi": "3.0.0",
    "info": {"title": "Pets", "version": "1"},
    "paths": {
        "/pets/{petId}": {
            "parameters": [
                {"name": "petId", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "get": {
                "operationId": "showPetById",
                "summary": "Info for a pet",
                "parameters": [{"name": "verbose", "in": "query", "schema": {"type": "boolean"}}],
                "responses": {"200": {"description": "ok"}},
            },
        },
        "/pets": {
            "post": {
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/NewPet"}}
                    },
                },
                "responses": {"201": {"description": "created"}},
            }
        },
    },
    "components": {
        "schemas": {
            "NewPet": {
                "type": "object",
                "required": ["name"],
                "properties": {"name": {"type": "string"}, "tag": {"type": "string"}},
            }
        }
    },
}

WEATHER = {
    "name": "get_weather",
    "description": "Weather for a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
        "required": ["city"],
    },
}

# (label, document, {tool name: (sorted parameter names, sorted required)}, extractor)
FIXTURES: list[tuple[str, str, dict[str, tuple[list[str], list[str]]], str]] = [
    (
        "openapi json",
        "Our API:\n" + json.dumps(OPENAPI, indent=2),
        {
            "showPetById": (["petId", "verbose"], ["petId"]),
            "POST /pets": (["name", "tag"], ["name"]),
        },
        "openapi",
    ),
    (
        "openapi yaml",
        "# Pets API\n\n```yaml\n" + yaml.safe_dump(OPENAPI) + "```\n",
        {
            "showPetById": (["petId", "verbose"], ["petId"]),
            "POST /pets": (["name", "tag"], ["name"]),
        },
        "openapi",
    ),
    (
        "lone path item",
        'The endpoint: {"/users/{id}": {"delete": {"operationId": "deleteUser", "parameters": '
        '[{"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}}], '
        '"responses": {"204": {"description": "gone"}}}}}',
        {"deleteUser": (["id"], ["id"])},
        "openapi",
    ),
    (
        "openai tools",
        "tools = " + json.dumps([{"type": "function", "function": WEATHER}]),
        {"get_weather": (["city", "days"], ["city"])},
        "function_spec",
    ),
    (
        "bfcl python literal",
        "Here is the function: "
        + repr(
            {
                "name": "calc_area",
                "description": "Area",
                "parameters": {
                    "type": "dict",
                    "properties": {
                        "base": {"type": "integer", "description": "b"},
                        "height": {"type": "float"},
                    },
                    "required": ["base"],
                },
            }
        ),
        {"calc_area": (["base", "height"], ["base"])},
        "function_spec",
    ),
    (
        "xlam flat map",
        "User: weather?\nAvailable tools: "
        + json.dumps(
            [
                {
                    "name": "forecast",
                    "description": "f",
                    "parameters": {
                        "city": {"type": "str", "description": "c"},
                        "days": {"type": "int, optional", "default": 3},
                    },
                }
            ]
        )
        + '\nAnswer: [{"name": "forecast", "arguments": {"city": "Oslo"}}]',
        {"forecast": (["city", "days"], ["city"])},
        "function_spec",
    ),
    (
        "escaped json",
        json.dumps({"prompt": "Tools: " + json.dumps([WEATHER])}),
        {"get_weather": (["city", "days"], ["city"])},
        "function_spec",
    ),
    (
        "json escaped twice in prose",
        "log: " + json.dumps(json.dumps(json.dumps(WEATHER)))[1:-1] + " (end)",
        {"get_weather": (["city", "days"], ["city"])},
        "function_spec",
    ),
    (
        "toolbench api list",
        json.dumps(
            {
                "api_list": [
                    {
                        "tool_name": "Geo",
                        "api_name": "lookup_ip",
                        "api_description": "IP info",
                        "required_parameters": [
                            {"name": "ip", "type": "STRING", "description": "x"}
                        ],
                        "optional_parameters": [{"name": "lang", "type": "STRING"}],
                        "method": "GET",
                    }
                ]
            }
        ),
        {"lookup_ip": (["ip", "lang"], ["ip"])},
        "toolbench",
    ),
    (
        "api zoo entry",
        json.dumps(
            {
                "api_name": "Pets - list",
                "api_call": "client.pets.list(limit=10)",
                "api_arguments": {"limit": "integer: How many", "cursor": "string: Page cursor"},
            }
        ),
        {"client.pets.list": (["cursor", "limit"], [])},
        "api_entry",
    ),
    (
        "catalogue entry with a method name",
        json.dumps(
            {
                "api_name": "spaces.list",
                "api_call": "service.spaces().list(pageSize=10).execute()",
                "api_arguments": {
                    "pageSize": "[REQUIRED] integer: How many spaces to return",
                    "filter": "[OPTIONAL] string: A query",
                },
            }
        ),
        {"spaces.list": (["filter", "pageSize"], ["pageSize"])},
        "api_entry",
    ),
    (
        "flat parameter map beside a required list",
        json.dumps(
            {
                "tool_name": "send_sms",
                "description": "Send a text message.",
                "parameters": {
                    "to": {"type": "string", "description": "The number"},
                    "body": {"type": "string", "description": "The text"},
                },
                "required": ["to"],
            }
        ),
        {"send_sms": (["body", "to"], ["to"])},
        "function_spec",
    ),
    (
        "parameter list under func_name",
        json.dumps(
            {
                "func_name": "get_quote",
                "description": "A stock quote.",
                "parameters": [
                    {"name": "symbol", "type": "string", "required": True},
                    {"name": "exchange", "type": "string", "description": "Where"},
                ],
            }
        ),
        {"get_quote": (["exchange", "symbol"], ["symbol"])},
        "function_spec",
    ),
    (
        "python google docstring",
        "import x\n\ndef get_weather(city: str, days: int = 3) -> dict:\n"
        '    """Weather for a city.\n\n'
        '    Args:\n        city: The city.\n        days: Days ahead.\n    """\n    return {}\n\n'
        'Example:\n\n    get_weather(city="Paris", days=2)\n',
        {"get_weather": (["city", "days"], ["city"])},
        "python",
    ),
    (
        "markdown table",
        "## `create_user`\n\nCreates a user.\n\n"
        "| Name | Type | Required | Description |\n|---|---|---|---|\n"
        "| email | string | yes | Login |\n| age | integer | no | Age |\n",
        {"create_user": (["age", "email"], ["email"])},
        "table",
    ),
]


@pytest.mark.parametrize(
    ("label", "text", "want", "extractor"), FIXTURES, ids=[f[0] for f in FIXTURES]
)
def test_each_extractor_finds_its_spec(
    label: str, text: str, want: dict[str, tuple[list[str], list[str]]], extractor: str
) -> None:
    result = tc.extract_texts([text])
    got = {
        t["name"]: (
            sorted(t["parameters"]["properties"]),
            sorted(t["parameters"].get("required", [])),
        )
        for t in result.tools
    }
    assert got == want
    assert {t["extractor"] for t in result.tools} == {extractor}
    for t in result.tools:
        assert 0 <= t["source"]["start"] < t["source"]["end"] <= len(text)


def test_calls_beside_specs_and_transcripts() -> None:
    xlam = next(f[1] for f in FIXTURES if f[0] == "xlam flat map")
    r = tc.extract_texts([xlam])
    assert [(c["name"], c["arguments"]) for c in r.calls] == [("forecast", {"city": "Oslo"})]
    py = next(f[1] for f in FIXTURES if f[0] == "python google docstring")
    r = tc.extract_texts([py])
    assert [(c["name"], c["arguments"]) for c in r.calls] == [
        ("get_weather", {"city": "Paris", "days": 2})
    ]
    hermes = json.dumps(
        {
            "conversations": [
                {"from": "system", "value": "<tools>" + json.dumps([WEATHER]) + "</tools>"},
                {"from": "human", "value": "Weather in Rome?"},
                {
                    "from": "gpt",
                    "value": "<tool_call>"
                    + json.dumps({"name": "get_weather", "arguments": {"city": "Rome"}})
                    + "</tool_call>",
                },
            ]
        }
    )
    r = tc.extract_texts([hermes])
    assert [t["extractor"] for t in r.tools] == ["transcript"]
    assert [c["arguments"] for c in r.calls] == [{"city": "Rome"}]
    # A call with no spec of its name beside it is not kept.
    assert tc.extract_texts(['{"name": "nowhere", "arguments": {"a": 1}} and more']).calls == []


def test_malformed_and_data_tables_are_counted_not_emitted() -> None:
    bad = json.dumps(
        {"name": "f", "parameters": {"type": "object", "properties": {"x": {"type": "widget"}}}}
    )
    data = (
        "## Properties\n\nName | Type | Description\n--- | --- | ---\n**ca_bundle** | **str** | x\n"
    )
    r = tc.extract_texts([bad, data])
    assert r.tools == []
    assert r.report["extractors"]["function_spec"]["rejected"] == {"malformed_schema": 1}
    assert sum(r.report["extractors"]["table"]["rejected"].values()) == 1


def test_emitted_records_pass_the_checker_and_never_invent_calls(tmp_path: Path) -> None:
    docs = [{"id": i, "text": text} for i, (_, text, _, _) in enumerate(FIXTURES)]
    src = tmp_path / "kept.jsonl"
    src.write_text("".join(json.dumps(d) + "\n" for d in docs) + '{"id": "x"}\n')
    result = fastscan.extract(src, tmp_path / "out", emit="hermes")
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["documents"] == len(docs) + 1
    assert report["documents_unreadable"] == {"no text": 1}
    assert report["documents_with_spec"] == len(docs)
    lines = (tmp_path / "out" / "records.hermes.jsonl").read_text().splitlines()
    assert len(lines) == report["emit"]["emitted"] > 0
    checked = tc.check_records(lines, format="hermes")
    assert checked.report["totals"]["valid"] == len(lines)
    found = (tmp_path / "out" / "calls.jsonl").read_text().splitlines()
    with_call = sum(len(tc.canonical(line, "hermes")[1]["messages"]) > 0 for line in lines)
    assert 0 < with_call <= len(found)  # only calls that were found
    assert result.tools == []  # streamed to tools.jsonl, not held in memory
    assert report["specs"] == len((tmp_path / "out" / "tools.jsonl").read_text().splitlines())
    assert report["calls"] == len(found)
    tools = [json.loads(x) for x in (tmp_path / "out" / "tools.jsonl").read_text().splitlines()]
    assert {t["source"]["file"] for t in tools} == {str(src)}
    assert (tmp_path / "out" / "report.html").read_text().count("<h3>") >= 5


def _lmflow_rules(document: Any) -> list[str]:
    """LMFlow's conversation rules, written here apart from fastscan's own check: type
    conversation; each instance's messages a non-empty list alternating user / assistant in
    pairs, starting with user, with non-empty string contents; system a string, tools a list
    of strings."""
    broken = []
    if document.get("type") != "conversation" or not isinstance(document.get("instances"), list):
        return ["not a conversation dataset"]
    for n, inst in enumerate(document["instances"]):
        msgs = inst.get("messages")
        roles = [m.get("role") for m in msgs] if isinstance(msgs, list) else []
        if not roles or len(roles) % 2 or roles != ["user", "assistant"] * (len(roles) // 2):
            broken.append(f"{n}: roles {roles}")
        if any(not isinstance(m.get("content"), str) or not m["content"] for m in msgs or []):
            broken.append(f"{n}: empty content")
        if not isinstance(inst.get("system", ""), str):
            broken.append(f"{n}: system")
        if not all(isinstance(t, str) for t in inst.get("tools", [])):
            broken.append(f"{n}: tools")
    return broken


def test_emit_lmflow_writes_a_conversation_dataset_lmflow_loads(tmp_path: Path) -> None:
    docs = [{"id": i, "text": text} for i, (_, text, _, _) in enumerate(FIXTURES)]
    # A spec, a paragraph asking for something, then a call: one user / assistant pair.
    docs.append(
        {
            "id": "pair",
            "text": "def forecast_town(city: str, days: int = 1) -> dict:\n"
            '    """Forecast for a city."""\n\n'
            "What will the weather be in Oslo tomorrow?\n\n"
            "forecast_town(city='Oslo', days=1)\n",
        }
    )
    src = tmp_path / "kept.jsonl"
    src.write_text("".join(json.dumps(d) + "\n" for d in docs))
    fastscan.extract(src, tmp_path / "out", emit="lmflow")
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert "records.lmflow.json" in report["outputs"]
    document = json.loads((tmp_path / "out" / "records.lmflow.json").read_text())
    assert _lmflow_rules(document) == []
    assert tc.lmflow.problems(document) == []
    instances = document["instances"]
    assert len(instances) == report["emit"]["emitted"] > 0
    pair = next(i for i in instances if "forecast_town" in i["messages"][1]["content"])
    assert pair["messages"][0] == {
        "role": "user",
        "content": "What will the weather be in Oslo tomorrow?",
    }
    assert "<tool_call>" in pair["messages"][1]["content"]
    call = pair["messages"][1]["content"].split("<tool_call>\n")[1].split("\n</tool_call>")[0]
    assert json.loads(call) == {"name": "forecast_town", "arguments": {"city": "Oslo", "days": 1}}
    assert [json.loads(t)["name"] for t in pair["tools"]] == ["forecast_town"]
    # What could not become a conversation is counted with its reason, never written.
    skipped = {k: v for k, v in report["emit"].items() if k.startswith("not_a_conversation")}
    assert sum(skipped.values()) > 0
    assert all(k.split(":")[1] in {"no_user_turn", "no_assistant_turn", "empty_turn"}
               for k in skipped)  # fmt: skip


def test_lmflow_problems_finds_each_broken_rule() -> None:
    good = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}
    assert tc.lmflow.problems({"type": "conversation", "instances": [good]}) == []
    broken = [
        {"messages": [{"role": "assistant", "content": "a"}]},
        {"messages": [{"role": "user", "content": "q"}]},
        {"messages": [{"role": "user", "content": ""}, {"role": "assistant", "content": "a"}]},
        {**good, "tools": [{"name": "f"}]},
        {**good, "system": 3},
        {"messages": []},
    ]
    for instance in broken:
        document = {"type": "conversation", "instances": [instance]}
        assert tc.lmflow.problems(document), instance
        assert _lmflow_rules(document), instance
    assert tc.lmflow.problems({"type": "text_only", "instances": []})


# ---- round trip: random tools rendered by each spec renderer, extracted back ----

NAMES = st.from_regex(r"[a-z][a-z0-9_]{2,12}", fullmatch=True)
TYPES = {"string": "str", "integer": "int", "number": "float", "boolean": "bool"}


@st.composite
def tools(draw: st.DrawFn) -> dict[str, Any]:
    props = draw(st.dictionaries(NAMES, st.sampled_from(sorted(TYPES)), min_size=1, max_size=5))
    required = sorted(draw(st.sets(st.sampled_from(sorted(props)))))
    return {"name": draw(NAMES), "props": props, "required": required}


def _schema(t: dict[str, Any]) -> dict[str, Any]:
    s: dict[str, Any] = {
        "type": "object",
        "properties": {k: {"type": v} for k, v in t["props"].items()},
    }
    if t["required"]:
        s["required"] = t["required"]
    return s


def _python(t: dict[str, Any]) -> str:
    params = [f"{k}: {TYPES[v]}" for k, v in t["props"].items() if k in t["required"]]
    params += [f"{k}: {TYPES[v]} = None" for k, v in t["props"].items() if k not in t["required"]]
    doc = "\n".join(f"        {k}: The {k}." for k in t["props"])
    return f'def {t["name"]}({", ".join(params)}):\n    """Does it.\n\n    Args:\n{doc}\n    """\n'


def _table(t: dict[str, Any]) -> str:
    rows = "".join(
        f"| {k} | {v} | {'yes' if k in t['required'] else 'no'} | The {k} |\n"
        for k, v in t["props"].items()
    )
    head = "| Parameter | Type | Required | Description |\n|---|---|---|---|\n"
    return f"## `{t['name']}`\n\n{head}{rows}"


def _openapi(t: dict[str, Any]) -> str:
    body = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Body"}}}}
    spec = {
        "openapi": "3.0.0",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/run": {"post": {"operationId": t["name"], "requestBody": body, "responses": {}}}
        },
        "components": {"schemas": {"Body": _schema(t)}},
    }
    return "```yaml\n" + yaml.safe_dump(spec) + "```\n"


RENDERERS = {
    "openapi": _openapi,
    "json": lambda t: "Spec: " + json.dumps({"name": t["name"], "parameters": _schema(t)}),
    "python literal": lambda t: "Spec: " + repr({"name": t["name"], "parameters": _schema(t)}),
    "escaped": lambda t: json.dumps(
        {"text": json.dumps([{"name": t["name"], "parameters": _schema(t)}])}
    ),
    "yaml bare": lambda t: (
        "The spec:\n\n" + yaml.safe_dump({"name": t["name"], "parameters": _schema(t)})
    ),
    "yaml": lambda t: (
        "```yaml\n" + yaml.safe_dump({"name": t["name"], "parameters": _schema(t)}) + "```\n"
    ),
    "openai": lambda t: json.dumps(
        {"type": "function", "function": {"name": t["name"], "parameters": _schema(t)}}
    ),
    "xlam": lambda t: json.dumps(
        {
            "name": t["name"],
            "parameters": {
                k: {"type": TYPES[v] + ("" if k in t["required"] else ", optional")}
                for k, v in t["props"].items()
            },
        }
    ),
    "python": _python,
    "table": _table,
}


@given(tools(), st.sampled_from(sorted(RENDERERS)))
def test_rendered_tools_extract_back_equal(tool: dict[str, Any], renderer: str) -> None:
    text = RENDERERS[renderer](tool)
    result = tc.extract_texts([text])
    assert len(result.tools) == 1, (renderer, text, result.rejected)
    got = result.tools[0]
    assert got["name"] == tool["name"]
    props = got["parameters"]["properties"]
    assert {k: p.get("type") for k, p in props.items()} == tool["props"]
    assert sorted(got["parameters"].get("required", [])) == tool["required"]


@given(st.text(max_size=300))
def test_any_text_extracts_without_crashing(text: str) -> None:
    result = tc.extract_texts(
        [text, "{" * 500 + text, "[" * 500, text + '{"name": "x", "parameters": ' * 50]
    )
    assert result.report["documents"] == 4


def test_parquet_and_compressed_inputs(tmp_path: Path) -> None:
    import gzip

    import pyarrow as pa
    import pyarrow.parquet as pq

    texts = [text for _, text, _, _ in FIXTURES]
    pq.write_table(pa.table({"doc": [{"body": t} for t in texts]}), tmp_path / "a.parquet")
    with gzip.open(tmp_path / "b.jsonl.gz", "wt") as fh:
        fh.writelines(json.dumps({"doc": {"body": t}}) + "\n" for t in texts)
    report = fastscan.extract(tmp_path, tmp_path / "out", text_field="doc.body").report
    assert report["documents"] == 2 * len(texts)
    assert report["documents_with_spec"] == 2 * len(texts)
    files = {
        json.loads(x)["source"]["file"]
        for x in (tmp_path / "out" / "tools.jsonl").read_text().splitlines()
    }
    assert files == {str(tmp_path / "a.parquet"), str(tmp_path / "b.jsonl.gz")}


def test_fastscan_reads_its_own_lmflow_outputs(tmp_path: Path) -> None:
    """``--output-format lmflow`` files and ``records.lmflow.json`` are inputs to extract and
    toolcalls check: the same documents give the same specs as their JSON lines."""
    docs = [{"id": i, "text": text} for i, (_, text, _, _) in enumerate(FIXTURES)]
    src = tmp_path / "in" / "docs.jsonl"
    src.parent.mkdir()
    src.write_text("".join(json.dumps(d) + "\n" for d in docs))
    run = tmp_path / "run"
    fastscan.filter_shards(src, run, output_format="lmflow", min_score=0.0)
    kept = sorted((run / "kept").rglob("*.json"))
    assert kept
    from_lmflow = fastscan.extract(run / "kept", tmp_path / "a", emit="lmflow").report
    kept_texts = {i["text"] for f in kept for i in json.loads(f.read_text())["instances"]}
    lines = tmp_path / "kept.jsonl"
    lines.write_text("".join(json.dumps({"text": t}) + "\n" for t in sorted(kept_texts)))
    from_lines = fastscan.extract(lines, tmp_path / "b").report
    assert from_lmflow["documents"] == from_lines["documents"] == len(kept_texts)
    assert from_lmflow["specs"] == from_lines["specs"] > 0
    emitted = tmp_path / "a" / "records.lmflow.json"
    checked = tc.check(emitted, tmp_path / "c").report["totals"]
    n = len(json.loads(emitted.read_text())["instances"])
    assert checked["read"] == n == checked["valid"] > 0
    # fastscan-filter says what such a file is instead of rejecting every line.
    report = fastscan.filter_shards(emitted, tmp_path / "f")
    (entry,) = report["shards"]
    assert entry["status"] == "failed"
    assert "one JSON document" in entry["error"]
