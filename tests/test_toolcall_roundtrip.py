"""Property: random tools and calls, written in every format and read back, give the same
canonical record; a format that cannot hold a record names the loss, and only the losses the
record's features call for."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

import fastscan.toolcalls as tc

NAMES = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True)
# Message text: any character but '<' (which starts the XML / Hermes markup every such format
# refuses by name) and NUL; quotes, backslashes, braces, newlines and non-ASCII included.
TEXT = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="<\x00"), max_size=40)

SIMPLE = ["string", "integer", "number", "boolean"]


@st.composite
def schemas(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from([*SIMPLE, "array", "enum", "object"]))
    if kind == "array":
        s: dict[str, Any] = {"type": "array", "items": {"type": draw(st.sampled_from(SIMPLE))}}
    elif kind == "enum":
        s = {"type": "string", "enum": draw(st.lists(TEXT, min_size=1, max_size=3, unique=True))}
    elif kind == "object":
        s = {"type": "object", "properties": {"id": {"type": "integer"}}, "required": ["id"]}
    else:
        s = {"type": kind}
    if draw(st.booleans()):
        s["description"] = draw(TEXT)
    return s


def values(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    t = schema["type"]
    if t == "string":
        return TEXT
    if t == "integer":
        return st.integers(-(2**53), 2**53)
    if t == "number":
        return st.floats(allow_nan=False, allow_infinity=False, width=64)
    if t == "boolean":
        return st.booleans()
    if t == "array":
        return st.lists(values(schema["items"]), max_size=3)
    return st.fixed_dictionaries({"id": st.integers(0, 1000)})


@st.composite
def tools(draw: st.DrawFn) -> list[dict[str, Any]]:
    names = draw(st.lists(NAMES, min_size=1, max_size=3, unique=True))
    out = []
    for name in names:
        props = draw(st.dictionaries(NAMES, schemas(), max_size=4))
        required = sorted(draw(st.sets(st.sampled_from(sorted(props)))) if props else [])
        params: dict[str, Any] = {"type": "object", "properties": props}
        if required:
            params["required"] = required
        spec: dict[str, Any] = {"name": name, "parameters": params}
        if draw(st.booleans()):
            spec["description"] = draw(TEXT)
        out.append({"type": "function", "function": spec})
    return out


@st.composite
def records(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, bool]]:
    """An OpenAI record and its features: ids, response names, text beside calls, parallel
    calls, and whether it is a single exchange (user query, calls)."""
    ts = draw(tools())
    f = {
        "ids": draw(st.booleans()),
        "names": draw(st.booleans()),
        "text_beside": draw(st.booleans()),
        "parallel": draw(st.booleans()),
        "single": draw(st.booleans()),
    }
    messages: list[dict[str, Any]] = []
    if not f["single"] and draw(st.booleans()):
        messages.append({"role": "system", "content": draw(TEXT)})
    messages.append({"role": "user", "content": draw(TEXT)})
    n_id = 0
    for _round in range(1 if f["single"] else draw(st.integers(1, 2))):
        calls = []
        for _ in range(draw(st.integers(2, 3)) if f["parallel"] else 1):
            tool = draw(st.sampled_from(ts))["function"]
            props = tool["parameters"]["properties"]
            required = set(tool["parameters"].get("required", []))
            keys = [k for k in props if k in required or draw(st.booleans())]
            args = {k: draw(values(props[k])) for k in keys}
            call: dict[str, Any] = {
                "type": "function",
                "function": {"name": tool["name"], "arguments": json.dumps(args)},
            }
            if f["ids"]:
                n_id += 1
                call["id"] = f"call_{n_id}"
            calls.append(call)
        content = draw(TEXT) if f["text_beside"] else None
        messages.append({"role": "assistant", "content": content, "tool_calls": calls})
        if f["single"]:
            break
        for c in calls:
            resp: dict[str, Any] = {"role": "tool", "content": draw(TEXT)}
            if f["ids"]:
                resp["tool_call_id"] = c["id"]
            if f["names"]:
                resp["name"] = c["function"]["name"]
            messages.append(resp)
        messages.append({"role": "assistant", "content": draw(TEXT)})
    # "Text beside" only counts when some text is left after trimming.
    f["text_beside"] = any(m.get("tool_calls") and (m["content"] or "").strip() for m in messages)
    f["names"] = f["names"] and any(m["role"] == "tool" for m in messages)
    return {"messages": messages, "tools": ts}, f


def losses(fmt: str, f: dict[str, bool]) -> set[str]:
    """The losses `fmt` meets on a record with features `f` (empty: it holds the record)."""
    need = set()
    if f["ids"] and fmt not in ("openai", "yaml"):
        need.add("call_ids")
    if f["names"] and fmt in ("glaive", "sharegpt", "lmflow", "toolace"):
        need.add("response_names")
    if f["text_beside"] and fmt in ("sharegpt", "lmflow", "toolace", "xlam"):
        need.add("text_beside_call")
    if f["parallel"] and fmt in ("openai_functions", "glaive"):
        need.add("parallel_calls")
    if not f["single"] and fmt == "xlam":
        need.update({"system_prompt", "tool_responses", "multi_turn"})
    return need


@given(records())
def test_every_format_round_trips_what_it_can_hold(
    case: tuple[dict[str, Any], dict[str, bool]],
) -> None:
    record, features = case
    want = tc.canonical(record, "openai")[1]
    written: dict[str, str] = {}
    for fmt in tc.FORMATS:
        row = tc.convert_records(
            [record], fmt, from_format="openai", threads=1
        ).records.to_pylist()[0]
        need = losses(fmt, features)
        if not need:
            assert row["status"] == "converted", (fmt, row["reason"], row["detail"])
            assert tc.canonical(row["output"], fmt)[1] == want, fmt
            written[fmt] = row["output"]
        else:
            assert row["status"] == "not_converted", fmt
            assert row["reason"] in need, (fmt, row["reason"], need)
    for a, text in written.items():
        for b in written:
            there = tc.convert_records([text], b, from_format=a, threads=1).records.to_pylist()[0]
            assert there["status"] == "converted", (a, b, there["detail"])
            back = tc.convert_records(
                [there["output"]], a, from_format=b, threads=1
            ).records.to_pylist()[0]
            assert back["status"] == "converted", (a, b, back["detail"])
            assert tc.canonical(back["output"], a)[1] == want, (a, b)
