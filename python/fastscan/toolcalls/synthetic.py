"""Synthetic function-calling records with known injected errors, for tests and benchmarks.

Records are written in OpenAI chat format (``tools`` + ``tool_calls``); convert them to any
other format with :func:`fastscan.toolcalls.convert_records`. Every record is valid unless an
error was injected; :func:`dataset` returns which rule each injected error must trip.
"""

from __future__ import annotations

import copy
import json
import random
import string
from typing import Any

#: The rules :func:`inject` can trip, one mutation each.
INJECTABLE = (
    "unknown_tool",
    "unknown_argument",
    "missing_required",
    "type_mismatch",
    "enum_mismatch",
    "invalid_arguments",
    "arguments_encoding",
    "duplicate_call_id",
    "orphan_tool_response",
    "empty_tool_name",
    "malformed_schema",
)

_WORDS = [
    "city",
    "weather",
    "stock",
    "price",
    "user",
    "order",
    "ticket",
    "flight",
    "hotel",
    "search",
    "query",
    "limit",
    "offset",
    "currency",
    "amount",
    "date",
    "time",
    "zone",
    "lang",
    "region",
    "email",
    "phone",
    "name",
    "title",
    "body",
    "tag",
    "status",
]


def _word(rng: random.Random) -> str:
    return rng.choice(_WORDS)


def _ident(rng: random.Random, parts: int = 2) -> str:
    return "_".join(_word(rng) for _ in range(parts)) + str(rng.randint(0, 99))


def random_tool(rng: random.Random) -> dict[str, Any]:
    """An OpenAI tool spec with 1-6 typed parameters, some required."""
    props: dict[str, Any] = {}
    for _ in range(rng.randint(1, 6)):
        name = _ident(rng, 1)
        kind = rng.choice(["string", "integer", "number", "boolean", "array", "enum", "object"])
        if kind == "array":
            props[name] = {"type": "array", "items": {"type": rng.choice(["string", "integer"])}}
        elif kind == "enum":
            props[name] = {"type": "string", "enum": sorted({_word(rng) for _ in range(3)})}
        elif kind == "object":
            props[name] = {
                "type": "object",
                "properties": {"id": {"type": "integer"}, "label": {"type": "string"}},
                "required": ["id"],
            }
        else:
            props[name] = {"type": kind}
        props[name]["description"] = f"The {name.rstrip(string.digits)} to use."
    required = sorted(rng.sample(sorted(props), rng.randint(0, len(props))))
    params: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        params["required"] = required
    return {
        "type": "function",
        "function": {
            "name": _ident(rng),
            "description": f"Looks up the {_word(rng)}.",
            "parameters": params,
        },
    }


def _value(rng: random.Random, schema: dict[str, Any]) -> Any:
    if "enum" in schema:
        return rng.choice(schema["enum"])
    t = schema.get("type")
    if t == "string":
        return rng.choice(["Paris", "2024-05-01", "hello world", "EUR", 'o\'clock "quoted"'])
    if t == "integer":
        return rng.randint(-5, 500)
    if t == "number":
        return rng.choice([0.5, 3.25, 12.0, -1.5])
    if t == "boolean":
        return rng.random() < 0.5
    if t == "array":
        return [_value(rng, schema["items"]) for _ in range(rng.randint(0, 3))]
    if t == "object":
        return {"id": rng.randint(1, 9), "label": "x"}
    return None


def _arguments(rng: random.Random, tool: dict[str, Any]) -> dict[str, Any]:
    params = tool["function"]["parameters"]
    required = set(params.get("required", []))
    return {
        k: _value(rng, s)
        for k, s in params["properties"].items()
        if k in required or rng.random() < 0.5
    }


#: Tools are drawn from a catalogue of this many, as real sets reuse a fixed API list.
CATALOGUE = 300


def _catalogue(seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    tools: dict[str, dict[str, Any]] = {}
    while len(tools) < CATALOGUE:
        t = random_tool(rng)
        tools.setdefault(t["function"]["name"], t)
    return list(tools.values())


_TOOLS = _catalogue(0)


def random_record(rng: random.Random) -> dict[str, Any]:
    """A valid OpenAI chat record: 1-4 tools of the catalogue (distinct names), 1-3 calls
    (parallel or in turns), their responses."""
    tools = copy.deepcopy(rng.sample(_TOOLS, rng.randint(1, 4)))
    messages: list[dict[str, Any]] = []
    if rng.random() < 0.5:
        messages.append({"role": "system", "content": "You are a helpful assistant with tools."})
    messages.append({"role": "user", "content": f"Please find the {_word(rng)} for {_word(rng)}."})
    call_id = 0
    for _turn in range(rng.randint(1, 2)):
        calls = []
        for _ in range(rng.randint(1, 2)):
            tool = rng.choice(tools)
            call_id += 1
            calls.append(
                {
                    "id": f"call_{call_id}",
                    "type": "function",
                    "function": {
                        "name": tool["function"]["name"],
                        "arguments": json.dumps(_arguments(rng, tool)),
                    },
                }
            )
        messages.append({"role": "assistant", "content": None, "tool_calls": calls})
        for c in calls:
            messages.append(
                {"role": "tool", "tool_call_id": c["id"], "content": json.dumps({"ok": True})}
            )
    messages.append({"role": "assistant", "content": "Here is what I found."})
    return {"messages": messages, "tools": tools}


def _calls(record: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for m in record["messages"] for c in m.get("tool_calls") or []]


def _tool_of(record: dict[str, Any], call: dict[str, Any]) -> dict[str, Any]:
    return next(t for t in record["tools"] if t["function"]["name"] == call["function"]["name"])


def inject(rng: random.Random, record: dict[str, Any], rule: str) -> dict[str, Any] | None:
    """A copy of `record` changed so that it trips `rule` (and nothing else), or None when
    the record has nothing the mutation needs (say, no required argument to drop)."""
    r = copy.deepcopy(record)
    call = rng.choice(_calls(r))
    fn = call["function"]
    args = json.loads(fn["arguments"])
    params = _tool_of(r, call)["function"]["parameters"]
    props = params["properties"]
    if rule == "unknown_tool":
        fn["name"] += "_missing"
        # The call's response names no tool, so only the call is wrong.
    elif rule == "unknown_argument":
        args["zz_not_declared"] = 1
    elif rule == "missing_required":
        present = [k for k in params.get("required", []) if k in args]
        if not present:
            return None
        del args[rng.choice(present)]
    elif rule == "type_mismatch":
        typed = [
            k
            for k in args
            if props[k].get("type") in ("integer", "string", "boolean") and "enum" not in props[k]
        ]
        if not typed:
            return None
        k = rng.choice(typed)
        args[k] = {"integer": True, "string": 7, "boolean": "yes"}[props[k]["type"]]
    elif rule == "enum_mismatch":
        enums = [k for k in args if "enum" in props[k]]
        if not enums:
            return None
        args[rng.choice(enums)] = "zz_not_allowed"
    elif rule == "invalid_arguments":
        fn["arguments"] = json.dumps(args)[:-1] + ",}"
        return r
    elif rule == "arguments_encoding":
        fn["arguments"] = args
        return r
    elif rule == "duplicate_call_id":
        calls = _calls(r)
        if len(calls) < 2:
            return None
        calls[1]["id"] = calls[0]["id"]
        # Keep each response pointing at an id that exists.
        for m in r["messages"]:
            if m["role"] == "tool" and m["tool_call_id"] not in {c["id"] for c in calls}:
                m["tool_call_id"] = calls[0]["id"]
        return r
    elif rule == "orphan_tool_response":
        last = next(
            i for i in range(len(r["messages"]) - 1, -1, -1) if r["messages"][i]["role"] == "tool"
        )
        r["messages"].insert(
            last + 1, {"role": "tool", "tool_call_id": "call_nowhere", "content": "{}"}
        )
        return r
    elif rule == "empty_tool_name":
        fn["name"] = ""
    elif rule == "malformed_schema":
        k = rng.choice(sorted(props))
        props[k]["type"] = "widget"
        return r
    else:
        raise ValueError(f"cannot inject {rule!r}")
    fn["arguments"] = json.dumps(args)
    return r


def dataset(
    n: int, seed: int = 0, error_rate: float = 0.1
) -> list[tuple[dict[str, Any], str | None]]:
    """`n` records, each ``(record, injected rule or None)``; about `error_rate` of them hold
    one injected error, spread over :data:`INJECTABLE`."""
    rng = random.Random(seed)
    out: list[tuple[dict[str, Any], str | None]] = []
    while len(out) < n:
        record = random_record(rng)
        if rng.random() < error_rate:
            rule = INJECTABLE[len(out) % len(INJECTABLE)]
            bad = inject(rng, record, rule)
            if bad is not None:
                out.append((bad, rule))
                continue
        out.append((record, None))
    return out
