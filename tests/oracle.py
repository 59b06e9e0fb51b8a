"""A slow, obviously correct model of the scanner's semantics, for property tests.

It follows the documented definitions one by one: literals count every (overlapping)
occurrence, case-insensitive literals fold ASCII only; regexes count `re.finditer` matches;
groups sum their patterns; formats need `min_hits`; the score sums weight * log2(1 + count)
over groups that reach `min_hits` (a `support` group only when some other group does).
Patterns of the folded view count on `fold(text)`, written here from the rules in
`fastscan_core::fold`, character by character.
"""

from __future__ import annotations

import math
import re
from typing import Any


def count_literal(haystack: bytes, literal: bytes, case_sensitive: bool) -> int:
    if not case_sensitive:
        haystack, literal = haystack.lower(), literal.lower()  # bytes.lower folds ASCII only
    return sum(haystack.startswith(literal, i) for i in range(len(haystack)))


SPACES = " \t\r\n\x0b\x0c"


def _word(c: str) -> bool:
    return not c.isascii() or c.isalnum() or c == "_"


def fold(text: str) -> str:
    out: list[str] = []
    pending = False
    i = 0

    def push(c: str) -> None:
        nonlocal pending
        if pending and _word(c) and out and _word(out[-1]):
            out.append(" ")
        pending = False
        out.append(c)

    while i < len(text):
        c = text[i]
        if c in "\"'":
            i += 1
        elif c == "\\":
            j = i
            while j < len(text) and text[j] == "\\":
                j += 1
            nxt = text[j] if j < len(text) else ""
            if nxt and nxt in "\"'":
                i = j + 1
            elif nxt and nxt in "nrt":
                pending = True
                i = j + 1
            elif nxt == "/":
                i = j
            else:
                push("\\")
                i = j
        elif c in SPACES:
            pending = True
            i += 1
        else:
            push(c)
            i += 1
    return "".join(out)


def count_regex(haystack: str, regex: str, case_sensitive: bool) -> int:
    flags = 0 if case_sensitive else re.IGNORECASE
    return sum(1 for _ in re.finditer(regex, haystack, flags))


def scan(pack: dict[str, Any], haystack: str) -> dict[str, Any]:
    """Scans `haystack` with a pack given as a dict (the TOML structure)."""
    views = {"raw": haystack, "folded": fold(haystack)}
    row: dict[str, Any] = {"score": 0.0}
    formats: list[str] = []
    pattern_counts: list[int] = []
    reached: list[tuple[dict[str, Any], int]] = []
    for group in pack["group"]:
        cs = group.get("case_sensitive", True)
        sources = [(group, None)] + [(f, f) for f in group.get("format", [])]
        total = 0
        for spec, fmt in sources:
            fcs = spec.get("case_sensitive", cs) if fmt else cs
            view = spec.get("view", group.get("view", "raw")) if fmt else group.get("view", "raw")
            text = views[view]
            lits = [(fold(lit) if view == "folded" else lit) for lit in spec.get("literals", [])]
            counts = [count_literal(text.encode(), lit.encode(), fcs) for lit in lits]
            counts += [count_regex(text, rx, fcs) for rx in spec.get("regexes", [])]
            pattern_counts += counts
            total += sum(counts)
            if fmt is not None and sum(counts) >= fmt.get("min_hits", 1):
                formats.append(fmt["name"])
        row[group["name"]] = total
        if total >= group.get("min_hits", 1):
            reached.append((group, total))
    evidence = any(not g.get("support", False) for g, _ in reached)
    for group, total in reached:
        if evidence or not group.get("support", False):
            row["score"] += group.get("weight", 1.0) * math.log2(1 + total)
    row["formats"] = formats
    row["pattern_counts"] = pattern_counts
    return row
