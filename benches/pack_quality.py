"""Recall and flag rates of a pack on labeled JSONL, per `kind`.

    python benches/pack_quality.py ../shared/data/labeled [--pack tool-use]
        [--groups tool_call,schema,api_doc] [--min-score 0]

A document is *flagged* when any of `--groups` has a hit (count >= 1), or, with `--min-score`,
when its score reaches that value. Prints, per file and per `kind`: documents, flagged and the
share flagged (recall for positives, false-positive rate for the rest).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
from collections import defaultdict

import pyarrow as pa
import pyarrow.compute as pc

import fastscan

FILES = ("positives", "negatives", "hard_negatives", "unlabeled")


def load(path: str) -> tuple[list[str], list[str]]:
    texts, kinds = [], []
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        for line in f:
            record = json.loads(line)
            texts.append(record["text"])
            kinds.append(record.get("kind", "?"))
    return texts, kinds


def flagged(batch: pa.RecordBatch, groups: list[str], min_score: float | None) -> list[bool]:
    if min_score is not None:
        mask = pc.greater_equal(batch.column("score"), min_score)
    else:
        mask = pa.array([False] * batch.num_rows)
        for g in groups:
            mask = pc.or_(mask, pc.greater(batch.column(g), 0))
    return [bool(x) for x in mask.to_pylist()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("labeled", help="directory with positives/negatives/... .jsonl[.gz]")
    ap.add_argument("--pack", default="tool-use")
    ap.add_argument("--groups", default="tool_call,schema,api_doc")
    ap.add_argument("--min-score", type=float, default=None)
    ap.add_argument("--show", type=int, default=0, help="print N flagged non-positives")
    a = ap.parse_args()
    scanner = fastscan.Scanner(a.pack)
    groups = a.groups.split(",")
    print("| file | kind | docs | flagged | share |\n|---|---|---:|---:|---:|")
    for name in FILES:
        path = next(
            (
                os.path.join(a.labeled, name + ext)
                for ext in (".jsonl.gz", ".jsonl")
                if os.path.exists(os.path.join(a.labeled, name + ext))
            ),
            None,
        )
        if path is None:
            continue
        texts, kinds = load(path)
        flags = flagged(scanner.scan(texts), groups, a.min_score)
        per: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for kind, flag in zip(kinds, flags, strict=False):
            per[kind][0] += 1
            per[kind][1] += flag
        for kind, (n, k) in sorted(per.items(), key=lambda kv: -kv[1][0]):
            print(f"| {name} | {kind} | {n} | {k} | {k / n:.1%} |")
        n, k = len(flags), sum(flags)
        print(f"| **{name}** | **all** | **{n}** | **{k}** | **{k / n:.1%}** |")
        if name != "positives" and a.show:
            shown = 0
            for text, flag in zip(texts, flags, strict=False):
                if flag and shown < a.show:
                    shown += 1
                    row = scanner.scan_one(text)
                    hits = {g: row[g] for g in scanner.group_names if row[g]}
                    print(f"    FLAGGED {hits} {row['formats']}: {text[:300]!r}")


if __name__ == "__main__":
    main()
