"""Extraction quality on documents whose specs were written by hand (`specs_by_hand.py`: one
or more documents in each public format), per extractor: spec names found (precision and
recall) and parameters and required parameters (precision and recall over
``(spec, parameter)`` pairs of the specs whose names were found).

    python benches/extract_quality.py
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import fastscan.toolcalls as tc
from specs_by_hand import DOCS


@dataclass
class Counts:
    found: int = 0  # true positives
    extracted: int = 0
    expected: int = 0
    formats: set[str] = field(default_factory=set)

    def precision(self) -> float:
        return self.found / self.extracted if self.extracted else 1.0

    def recall(self) -> float:
        return self.found / self.expected if self.expected else 1.0


def measure() -> dict[str, dict[str, Counts]]:
    """Per extractor (and ``all``): ``names``, ``params`` and ``required`` counts."""
    table: dict[str, dict[str, Counts]] = defaultdict(lambda: defaultdict(Counts))
    for fmt, text, want in DOCS:
        got = tc.extract_texts([text]).tools
        by_name = {t["name"]: t for t in got}
        for ext in {t["extractor"] for t in got} | {"all"}:
            mine = [t for t in got if ext in ("all", t["extractor"])]
            row = table[ext]
            row["names"].formats.add(fmt)
            names = {t["name"] for t in mine}
            expected = set(want) if ext == "all" or mine else set()
            row["names"].extracted += len(names)
            row["names"].expected += len(expected)
            row["names"].found += len(names & expected)
            for name in names & set(want):
                params = set(by_name[name]["parameters"].get("properties", {}))
                required = set(by_name[name]["parameters"].get("required", []))
                for key, have, truth in (
                    ("params", params, set(want[name]["params"])),
                    ("required", required, set(want[name]["required"])),
                ):
                    row[key].extracted += len(have)
                    row[key].expected += len(truth)
                    row[key].found += len(have & truth)
        if not got:  # a document whose specs nothing found still counts against recall
            table["all"]["names"].expected += len(want)
            table["all"]["names"].formats.add(fmt)
    return table


def main() -> None:
    table = measure()
    print(f"{len(DOCS)} hand-written documents, {sum(len(w) for _, _, w in DOCS)} specs\n")
    print(
        "| extractor | formats | names P / R | parameters P / R | required P / R |\n"
        "|---|---|---:|---:|---:|"
    )
    for ext in sorted(table, key=lambda e: (e == "all", e)):
        row = table[ext]
        cells = [
            f"{row[k].precision():.2f} / {row[k].recall():.2f}"
            for k in ("names", "params", "required")
        ]
        print(f"| {ext} | {', '.join(sorted(row['names'].formats))} | {' | '.join(cells)} |")


if __name__ == "__main__":
    main()
