"""Tool-call datasets: check function-calling records against their tools, convert them
between the formats trainers read.

The record model, the formats, the rules and the type table live in the Rust core
(``fastscan-core/src/toolcalls``); this package streams files through it and writes the
outputs and the report.

>>> import fastscan.toolcalls as tc
>>> fmt, record = tc.canonical('{"query": "hi", "tools": "[]", "answers": "[]"}')
>>> fmt, [m["role"] for m in record["messages"]]
('xlam', ['user', 'assistant'])
"""

from __future__ import annotations

from fastscan.toolcalls import lmflow
from fastscan.toolcalls.check import CheckResult, check, check_records
from fastscan.toolcalls.convert import ConvertResult, convert, convert_records
from fastscan.toolcalls.extract import EXTRACTORS, ExtractResult, extract, extract_texts
from fastscan.toolcalls.files import ToolcallsError
from fastscan.toolcalls.tables import FORMATS, LOSSES, MODES, RULES, canonical, normalize_type

__all__ = [
    "EXTRACTORS",
    "FORMATS",
    "LOSSES",
    "MODES",
    "RULES",
    "CheckResult",
    "ConvertResult",
    "ExtractResult",
    "ToolcallsError",
    "canonical",
    "check",
    "check_records",
    "convert",
    "convert_records",
    "extract",
    "extract_texts",
    "lmflow",
    "normalize_type",
]
