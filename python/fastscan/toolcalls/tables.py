"""The names the core defines: formats, rule codes, loss codes, call modes, the type table."""

from __future__ import annotations

import json
from typing import Any

from fastscan import _fastscan

_TABLES = _fastscan.toolcall_tables()

#: Format names, as ``--format`` / ``--to`` take them.
FORMATS: tuple[str, ...] = tuple(_TABLES["formats"])
#: ``(code, what it reports)`` for every checker rule.
RULES: tuple[tuple[str, str], ...] = tuple(_TABLES["rules"])
#: ``(code, what the target format cannot hold)`` for every conversion loss.
LOSSES: tuple[tuple[str, str], ...] = tuple(_TABLES["losses"])
#: Call-mode labels, in the order they are tried.
MODES: tuple[str, ...] = tuple(_TABLES["modes"])


def canonical(
    record: str | dict[str, Any], format: str | None = None
) -> tuple[str, dict[str, Any]]:
    """``(format, canonical record)`` of one record (a dict or its JSON text); the format is
    detected when not given. Raises ValueError when the record cannot be read."""
    text = record if isinstance(record, str) else json.dumps(record)
    fmt, out = _fastscan.toolcall_canonical(text, format)
    return fmt, json.loads(out)


def normalize_type(spelling: str) -> tuple[dict[str, Any], bool] | None:
    """The JSON Schema a type spelling stands for (``"List[str]"`` → ``{"type": "array",
    "items": {"type": "string"}}``) and whether it marks the parameter optional; None when the
    table does not know the spelling."""
    found = _fastscan.normalize_type(spelling)
    if found is None:
        return None
    schema, optional = found
    return json.loads(schema), optional
