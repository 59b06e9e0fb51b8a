"""A slow, obviously correct model of the scanner's semantics, for property tests.

It follows the documented definitions one by one: literals count every (overlapping)
occurrence, case-insensitive literals fold ASCII only; regexes count `re.finditer` matches;
groups sum their patterns; formats need `min_hits`; the score sums weight * log2(1 + count)
over groups that reach `min_hits`.
"""

from __future__ import annotations

import math
import re
from typing import Any


def count_literal(haystack: bytes, literal: bytes, case_sensitive: bool) -> int:
    if not case_sensitive:
        haystack, literal = haystack.lower(), literal.lower()  # bytes.lower folds ASCII only
    return sum(haystack.startswith(literal, i) for i in range(len(haystack)))


def count_regex(haystack: str, regex: str, case_sensitive: bool) -> int:
    flags = 0 if case_sensitive else re.IGNORECASE
    return sum(1 for _ in re.finditer(regex, haystack, flags))


def scan(pack: dict[str, Any], haystack: str) -> dict[str, Any]:
    """Scans `haystack` with a pack given as a dict (the TOML structure)."""
    raw = haystack.encode()
    row: dict[str, Any] = {"score": 0.0}
    formats: list[str] = []
    pattern_counts: list[int] = []
    for group in pack["group"]:
        cs = group.get("case_sensitive", True)
        sources = [(group, None)] + [(f, f) for f in group.get("format", [])]
        total = 0
        for spec, fmt in sources:
            fcs = spec.get("case_sensitive", cs) if fmt else cs
            counts = [count_literal(raw, lit.encode(), fcs) for lit in spec.get("literals", [])]
            counts += [count_regex(haystack, rx, fcs) for rx in spec.get("regexes", [])]
            pattern_counts += counts
            total += sum(counts)
            if fmt is not None and sum(counts) >= fmt.get("min_hits", 1):
                formats.append(fmt["name"])
        row[group["name"]] = total
        if total >= group.get("min_hits", 1):
            row["score"] += group.get("weight", 1.0) * math.log2(1 + total)
    row["formats"] = formats
    row["pattern_counts"] = pattern_counts
    return row
