"""Serialization variants of a document: the same structured content, rewritten.

fastscan's selection should not depend on how a tool spec or a call is serialized. This module
finds the JSON structures inside a text (objects and arrays that parse, nested ones included)
and rewrites each of them in another serialization, leaving the prose around them as it is:

=================  ===========================================================================
``compact``        JSON without spaces: ``{"name":"f","parameters":{...}}``
``indented``       JSON indented by two spaces, one key per line
``python``         the Python literal (``repr``): single quotes, ``True`` / ``False`` / ``None``
``escaped``        JSON escaped inside a JSON string: ``"{\\"name\\": \\"f\\", ...}"``
``escaped2``       escaped twice: ``"{\\\\\\"name\\\\\\": ...}"``
``yaml``           YAML block style (PyYAML ``safe_dump``, keys in their order)
``renamed``        compact JSON with the field names tool datasets also use
                   (``name`` -> ``tool_name``, ``parameters`` -> ``input_schema``,
                   ``arguments`` -> ``args``, ``description`` -> ``desc``)
=================  ===========================================================================

`variants(text)` returns them all (an empty dict when the text holds no structure);
`invariance_table` measures, for a keep decision, how often each variant is kept compared with
the original. ``fastscan eval --variants`` prints that table, so users can check their own
packs, and the tests use the same functions on structured positives they build.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import yaml

VARIANTS = ("compact", "indented", "python", "escaped", "escaped2", "yaml", "renamed")

# Field names as other tool formats spell them (xLAM/ToolBench, Anthropic, short forms).
RENAMES = {
    "name": "tool_name",
    "parameters": "input_schema",
    "arguments": "args",
    "description": "desc",
}

# Structures smaller than this (characters of their compact JSON) are left alone: `[1, 2]` in
# prose is not a spec.
MIN_STRUCTURE = 24

_decoder = json.JSONDecoder()


def structures(text: str) -> list[tuple[int, int, Any]]:
    """The outermost JSON objects / arrays of `text` that parse: ``(start, end, value)``."""
    found = []
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c in "{[":
            try:
                value, end = _decoder.raw_decode(text, i)
            except ValueError:
                i += 1
                continue
            if isinstance(value, (dict, list)) and _size(value) >= MIN_STRUCTURE:
                found.append((i, end, value))
                i = end
                continue
        i += 1
    return found


def _size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":")))


def _rename(value: Any) -> Any:
    if isinstance(value, dict):
        return {RENAMES.get(k, k): _rename(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rename(v) for v in value]
    return value


def _yaml(value: Any) -> str:
    return yaml.safe_dump(value, sort_keys=False, allow_unicode=True, width=1 << 16).rstrip("\n")


RENDERERS: dict[str, Callable[[Any], str]] = {
    "compact": lambda v: json.dumps(v, separators=(",", ":"), ensure_ascii=False),
    "indented": lambda v: json.dumps(v, indent=2, ensure_ascii=False),
    "python": repr,
    "escaped": lambda v: json.dumps(json.dumps(v, ensure_ascii=False), ensure_ascii=False),
    "escaped2": lambda v: json.dumps(
        json.dumps(json.dumps(v, ensure_ascii=False), ensure_ascii=False), ensure_ascii=False
    ),
    "yaml": lambda v: "\n" + _yaml(v) + "\n",
    "renamed": lambda v: json.dumps(_rename(v), separators=(",", ":"), ensure_ascii=False),
}


def rewrite(text: str, variant: str, found: Sequence[tuple[int, int, Any]] | None = None) -> str:
    """`text` with every structure rendered as `variant` (see the module docs)."""
    render = RENDERERS[variant]
    spans = structures(text) if found is None else found
    out = []
    last = 0
    for start, end, value in spans:
        out.append(text[last:start])
        out.append(render(value))
        last = end
    out.append(text[last:])
    return "".join(out)


def variants(text: str) -> dict[str, str]:
    """Every variant of `text`, or ``{}`` when it holds no JSON structure to rewrite."""
    found = structures(text)
    if not found:
        return {}
    return {v: rewrite(text, v, found) for v in VARIANTS}


def invariance_table(
    texts: Sequence[str], keep: Callable[[list[str]], list[bool]]
) -> list[dict[str, Any]]:
    """How often each variant of the rewritable `texts` is kept, against the originals.

    `keep` decides a batch of texts. One row for the originals (``variant = "original"``) and
    one per variant: ``docs`` (texts with a structure), ``kept``, ``rate`` and ``ratio`` (the
    variant's keep rate over the originals'; the goal is >= 0.95 for every variant).
    """
    rewritable = [(t, variants(t)) for t in texts]
    rewritable = [(t, v) for t, v in rewritable if v]
    originals = [t for t, _ in rewritable]
    base = sum(keep(originals)) if originals else 0
    rows = [_row("original", len(originals), base, base)]
    for name in VARIANTS:
        kept = sum(keep([v[name] for _, v in rewritable])) if rewritable else 0
        rows.append(_row(name, len(originals), kept, base))
    return rows


def _row(name: str, docs: int, kept: int, base: int) -> dict[str, Any]:
    return {
        "variant": name,
        "docs": docs,
        "kept": kept,
        "rate": kept / docs if docs else None,
        "ratio": kept / base if base else None,
    }


def table_text(rows: Sequence[dict[str, Any]]) -> str:
    """The invariance table as Markdown."""
    lines = ["| variant | docs | kept | rate | vs original |", "|---|---:|---:|---:|---:|"]
    for r in rows:
        rate = "-" if r["rate"] is None else f"{100 * r['rate']:.1f}%"
        ratio = "-" if r["ratio"] is None else f"{r['ratio']:.3f}"
        lines.append(f"| {r['variant']} | {r['docs']:,} | {r['kept']:,} | {rate} | {ratio} |")
    return "\n".join(lines)
