"""Property tests: the scanner agrees with the pure-Python oracle on random packs and texts."""

from __future__ import annotations

import math
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

import fastscan
import oracle

# A small alphabet makes overlaps, shared prefixes and case variants likely; it includes
# multi-byte characters (2, 3 and 4 bytes in UTF-8) and a letter whose case folding is not ASCII.
# It also holds what the folded view treats specially: quotes, backslashes, escaped
# whitespace (`\n` as two characters), `/` and punctuation next to separators.
ALPHABET = "abAB_ é☃日\U0001f600\n\"'\\n/:"
literals = st.text(alphabet=ALPHABET, min_size=1, max_size=4)
texts = st.text(alphabet=ALPHABET, max_size=200)
# Long enough that the literal automaton walks them on several lanes (see literals.rs).
# Half of them without a backslash: folded literals are then counted on the raw bytes, on
# lanes (LiteralAutomaton::on_raw); with one, the folded view is built and walked.
long_texts = st.one_of(
    st.text(alphabet=ALPHABET, min_size=400, max_size=3000),
    st.text(alphabet=ALPHABET.replace("\\", ""), min_size=400, max_size=3000),
)
# Regexes whose Python `re` and Rust `regex` semantics agree (leftmost-first, same classes).
# Not a bare `$`: Python matches it before a final "\n", Rust only at the very end. Some
# require a literal of two or more bytes (the scanner runs them only where the literal pass
# found it), some a single byte (found with memchr), some nothing (always run).
REGEXES = [
    "a+",
    "ab|a",
    "[ab]{2}",
    "(?m)^a",
    "(?m)b$",
    "é+",
    "A_?b",
    "\\d+",
    "日[^日]",
    "_ab+",
    "(?:éa|b日)[ab]?",
    "(?m)^[ab]*☃ b",
    "(?:aa|bb)_",
    "\\d?A[ab]",
]


@st.composite
def packs(draw: st.DrawFn) -> dict[str, Any]:
    groups = []
    for g in range(draw(st.integers(1, 3))):
        case_sensitive = draw(st.booleans())
        view = draw(st.sampled_from(["raw", "folded"]))

        def key_of(lit: str, cs: bool = case_sensitive, view: str = view) -> bytes:
            text = oracle.fold(lit) if view == "folded" else lit
            return text.encode() if cs else text.encode().lower()

        # Literal uniqueness is judged in the group's view, with ASCII folding in
        # case-insensitive groups; a literal that folds to nothing is invalid there.
        seen: set[bytes] = set()
        lits = []
        for lit in draw(st.lists(literals, max_size=5)):
            key = key_of(lit)
            if key and key not in seen:
                seen.add(key)
                lits.append(lit)
        regexes = draw(st.lists(st.sampled_from(REGEXES), max_size=2, unique=True))
        group: dict[str, Any] = {
            "name": f"g{g}",
            "case_sensitive": case_sensitive,
            "weight": draw(st.sampled_from([1.0, 2.5, -1.0])),
            "min_hits": draw(st.integers(1, 3)),
            "view": view,
            "support": draw(st.booleans()),
            "literals": lits,
            "regexes": regexes,
        }
        fmt_lit = draw(literals)
        if key_of(fmt_lit, False) and key_of(fmt_lit, False) not in {
            key_of(x, False) for x in lits
        }:
            group["format"] = [{"name": f"f{g}", "literals": [fmt_lit], "min_hits": 2}]
        if not lits and not regexes and "format" not in group:
            group["literals"] = ["a"]
        groups.append(group)
    return {"group": groups}


def _check(pack: dict[str, Any], text: str, row: dict[str, Any]) -> None:
    want = oracle.scan(pack, text)
    for group in pack["group"]:
        assert row[group["name"]] == want[group["name"]], group["name"]
    assert row["formats"] == want["formats"]
    assert row["pattern_counts"] == want["pattern_counts"]
    assert math.isclose(row["score"], want["score"], rel_tol=1e-12, abs_tol=1e-12)


@given(packs(), st.lists(texts, max_size=8))
def test_scan_matches_oracle(pack: dict[str, Any], batch: list[str]) -> None:
    scanner = fastscan.Scanner(fastscan.PatternPack.from_dict(pack), threads=2, pattern_counts=True)
    rows = scanner.scan(batch).to_pylist()
    assert len(rows) == len(batch)
    for text, row in zip(batch, rows, strict=False):
        _check(pack, text, row)


@given(packs(), st.lists(long_texts, min_size=1, max_size=3))
def test_long_texts_match_oracle(pack: dict[str, Any], batch: list[str]) -> None:
    scanner = fastscan.Scanner(fastscan.PatternPack.from_dict(pack), threads=1, pattern_counts=True)
    for text, row in zip(batch, scanner.scan(batch).to_pylist(), strict=True):
        _check(pack, text, row)


@given(packs(), texts)
def test_scan_one_bytes_and_str_agree(pack: dict[str, Any], text: str) -> None:
    scanner = fastscan.Scanner(fastscan.PatternPack.from_dict(pack), threads=1, pattern_counts=True)
    row = scanner.scan_one(text)
    assert scanner.scan_one(text.encode()) == row
    _check(pack, text, row)


@given(st.one_of(texts, long_texts))
def test_fold_matches_oracle(text: str) -> None:
    # Long texts take the 64-byte block path (with and without backslashes in a block).
    assert fastscan.fold(text) == oracle.fold(text)


@given(st.lists(literals, min_size=1, max_size=8, unique=True), texts)
def test_literal_counts_are_overlapping_occurrences(lits: list[str], text: str) -> None:
    pack = {"group": [{"name": "g", "literals": lits}]}
    scanner = fastscan.Scanner(fastscan.PatternPack.from_dict(pack), pattern_counts=True)
    row = scanner.scan_one(text)
    want = [oracle.count_literal(text.encode(), lit.encode(), True) for lit in lits]
    assert row["pattern_counts"] == want
    assert row["g"] == sum(want)
