"""Gold sets for the semantic stage: plain texts, or function-calling datasets rendered to text.

``tool-use``, the built-in gold set, holds 24 short examples written for fastscan: tool-call
transcripts in the common formats, tool and JSON schemas, OpenAPI, API reference entries,
curl and HTTP exchanges, SDK usage. Each record of a gold file (JSONL, JSONL.gz/.zst,
Parquet, or a JSON array file) is one of:

* ``{"text": ...}``: used as is;
* OpenAI chat format ``{"messages": [...], "tools": [...]}``: the tools' JSON schemas, then
  the turns, with assistant ``tool_calls`` as ``name(arguments)``;
* xLAM ``{"query": ..., "tools": ..., "answers": ...}`` (tools and answers as JSON strings or
  lists);
* BFCL ``{"question": ..., "function": ...}`` (question as a string or nested turns).

A record that matches none of them is an error naming its line: a gold set is small and
curated, so a bad record is a mistake to fix, not data to skip.
"""

from __future__ import annotations

import difflib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fastscan.corpus import files_of, iter_records


class GoldError(ValueError):
    """A gold record in none of the known shapes."""


def _json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _dump(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _call(call: Any) -> str:
    call = _json(call)
    if isinstance(call, dict):
        fn = call.get("function", call)
        name = fn.get("name", "?")
        args = _json(fn.get("arguments", fn.get("parameters", {})))
        return f"{name}({_dump(args)})"
    return _dump(call)


def _tools(tools: Any) -> list[str]:
    tools = _json(tools)
    if not isinstance(tools, list):
        tools = [tools]
    out = []
    for tool in tools:
        tool = _json(tool)
        fn = tool.get("function", tool) if isinstance(tool, dict) else tool
        out.append(f"tool: {_dump(fn)}")
    return out


def _turns(messages: Any) -> list[str]:
    lines = []
    for m in _json(messages) or []:
        if isinstance(m, list):  # BFCL nests turns
            lines.extend(_turns(m))
            continue
        if not isinstance(m, dict):
            lines.append(_dump(m))
            continue
        role = m.get("role", "user")
        content = m.get("content")
        if content:
            lines.append(f"{role}: {_dump(content)}")
        for call in m.get("tool_calls") or []:
            lines.append(f"{role} calls {_call(call)}")
    return lines


def render(record: dict[str, Any]) -> str | None:
    """A gold record as text; None when it has none of the known shapes."""
    text = record.get("text")
    if isinstance(text, str):
        return text
    if "messages" in record:
        return "\n".join(_tools(record.get("tools") or []) + _turns(record["messages"]))
    if "query" in record and "tools" in record:
        answers = _json(record.get("answers") or [])
        calls = [_call(a) for a in (answers if isinstance(answers, list) else [answers])]
        lines = [*_tools(record["tools"]), f"user: {record['query']}"]
        return "\n".join(lines + [f"assistant calls {c}" for c in calls])
    if "question" in record and "function" in record:
        question = record["question"]
        turns = [f"user: {question}"] if isinstance(question, str) else _turns(question)
        return "\n".join(_tools(record["function"]) + turns)
    return None


def _json_file(path: Path) -> list[tuple[int, Any]] | None:
    """The records of a JSON file holding one array or object; None when it is JSON lines."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        return None
    return list(enumerate(data if isinstance(data, list) else [data], start=1))


# Gold sets shipped with fastscan, by name.
BUILTIN_GOLD = Path(__file__).resolve().parent.parent / "gold"


def builtin_gold() -> list[str]:
    """Names of the gold sets shipped with fastscan (``tool-use``)."""
    return sorted(p.stem for p in BUILTIN_GOLD.glob("*.jsonl"))


def load_gold(source: str | os.PathLike[str] | Sequence[str]) -> list[str]:
    """Gold texts from a built-in name, files / directories, or a list of texts."""
    if not isinstance(source, (str, os.PathLike)):
        return [str(t) for t in source]
    path = Path(source)
    if not path.exists() and str(source) in builtin_gold():
        path = BUILTIN_GOLD / f"{source}.jsonl"
    elif not path.exists() and not path.is_symlink():
        names = builtin_gold()
        close = difflib.get_close_matches(str(source), names, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise GoldError(
            f"gold {str(source)!r}: no such file, directory or built-in gold set "
            f"({hint}built-in: {', '.join(names)})"
        )
    files = [path] if path.suffix == ".json" and path.is_file() else files_of([path])
    texts: list[str] = []
    for file in files:
        rows = _json_file(file) if file.suffix == ".json" else None
        if rows is None:
            rows = list(iter_records(file))
        for lineno, record in rows:
            if isinstance(record, str):
                raise GoldError(f"{file}:{lineno}: {record}")
            text = render(record) if isinstance(record, dict) else None
            if text is None:
                raise GoldError(
                    f"{file}:{lineno}: not a gold record (text, messages+tools, "
                    "query+tools+answers, or question+function)"
                )
            texts.append(text)
    if not texts:
        raise GoldError(f"no gold records in {source}")
    return texts
