"""Stage 1's selection on labeled text, per kind, on two halves split by source.

    python benches/selection_quality.py ../shared/data/labeled [--pack tool-use]
        [--compare OLD_PACK.toml] [--min-score 2] [--speed-mb 50]

The labeled corpus is split by *source*, not by row: documents of one source directory
(`owner/repo:dir`; for ClimbLab samples, their cluster) all fall in the same half, chosen by a
hash of that key. Tune patterns on `tune` only; `held-out` says whether the tuning carried over
to sources it never saw. For each pack (the one given and, with `--compare`, another beside it
in the same run) it prints:

* keep rates of the default rule (stage 1, `PatternStage` with its defaults) per label and
  kind, for both halves;
* the invariance table of `fastscan.variants` on the positives (each JSON structure rewritten
  as compact / indented JSON, Python literal, escaped once / twice, YAML, renamed fields);
* stage 1's speed (MB/s per core, one thread, best of 3) on the texts repeated to
  `--speed-mb` MB.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
from collections import defaultdict
from typing import Any

import pyarrow as pa

from corpus import as_arrow, best_of, nbytes, repeat_to
from fastscan import variants as fv
from fastscan.cascade import PatternStage
from fastscan.scanner import Scanner

FILES = {"positives": "positive", "negatives": "negative", "hard_negatives": "hard_negative"}


def split_key(record: dict[str, Any]) -> str:
    repo, _, path = str(record["source"]).partition(":")
    if "climblab" in path:
        return "climblab:" + str(record["kind"]).split("__")[0]
    return repo + ":" + os.path.dirname(path)


def half(record: dict[str, Any]) -> str:
    digest = hashlib.sha1(split_key(record).encode()).digest()
    return "held-out" if digest[0] & 1 else "tune"


def load(corpus: str) -> list[dict[str, Any]]:
    docs = []
    for name, label in FILES.items():
        path = os.path.join(corpus, name + ".jsonl.gz")
        with gzip.open(path, "rt", encoding="utf-8") as f:
            for line in f:
                record = json.loads(line)
                record["label"] = label
                record["half"] = half(record)
                docs.append(record)
    return docs


def keeper(pack: str, min_score: float | None) -> Any:
    stage = (
        PatternStage(pack, threads=1)
        if min_score is None
        else PatternStage(pack, min_score=min_score, threads=1)
    )

    def keep(texts: list[str]) -> list[bool]:
        kept = stage.apply(pa.array(texts, pa.large_string())).keep.to_pylist()
        return [bool(k) for k in kept]

    return keep


def speed(pack: str, texts: list[str], mb: float) -> float:
    """Stage 1's MB/s on one thread: the texts repeated to `mb` MB, best of 3."""
    part = repeat_to(texts, mb)
    array = as_arrow(part)
    scanner = Scanner(pack, threads=1)
    return nbytes(part) / 1e6 / best_of(3, lambda: scanner.scan(array))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("corpus")
    ap.add_argument("--pack", default="tool-use")
    ap.add_argument("--compare", help="a second pack measured beside it (e.g. the old one)")
    ap.add_argument("--min-score", type=float, default=None, help="default: the stage's")
    ap.add_argument("--speed-mb", type=float, default=50.0)
    a = ap.parse_args()
    docs = load(a.corpus)
    packs = [a.pack] + ([a.compare] if a.compare else [])
    names = [os.path.basename(str(p)) for p in packs]
    texts = [d["text"] for d in docs]
    kept = {p: keeper(p, a.min_score)(texts) for p in packs}

    print("## Keep rate of the default rule, per kind and half (split by source)\n")
    print("| label | kind | half | docs | " + " | ".join(names) + " |")
    print("|---|---|---|---:|" + "---:|" * len(packs))
    cells: dict[tuple[str, str, str], list[int]] = defaultdict(list)
    for i, d in enumerate(docs):
        cells[(d["label"], d["kind"], d["half"])].append(i)
    summary: dict[tuple[str, str], list[int]] = defaultdict(list)
    for (label, kind, part), rows in sorted(cells.items()):
        rates = [sum(kept[p][i] for i in rows) / len(rows) for p in packs]
        print(
            f"| {label} | {kind} | {part} | {len(rows)} | "
            + " | ".join(f"{100 * r:.1f}%" for r in rates)
            + " |"
        )
        group = (
            "plain_algorithm_code"
            if kind == "plain_algorithm_code"
            else "climblab_lexical_and_tech"
            if label == "hard_negative" and kind.startswith("climblab")
            else label
        )
        summary[(group, part)].extend(rows)
        summary[(group, "all")].extend(rows)
    print("\n## Summary\n")
    print("| what | half | docs | " + " | ".join(names) + " |")
    print("|---|---|---:|" + "---:|" * len(packs))
    for (group, part), rows in sorted(summary.items()):
        rates = [sum(kept[p][i] for i in rows) / len(rows) for p in packs]
        print(
            f"| {group} | {part} | {len(rows)} | "
            + " | ".join(f"{100 * r:.1f}%" for r in rates)
            + " |"
        )
        if group == "positive" and part != "all":
            kinds = {docs[i]["kind"] for i in rows}
            worst = [
                min(
                    sum(kept[p][i] for i in rows if docs[i]["kind"] == k)
                    / sum(1 for i in rows if docs[i]["kind"] == k)
                    for k in kinds
                )
                for p in packs
            ]
            print(
                f"| positive: worst kind | {part} | | "
                + " | ".join(f"{100 * w:.1f}%" for w in worst)
                + " |"
            )
    print("\n## Invariance of the default rule on the positives\n")
    positives = [d["text"] for d in docs if d["label"] == "positive"]
    for p, name in zip(packs, names, strict=True):
        print(f"### {name}\n")
        print(fv.table_text(fv.invariance_table(positives, keeper(p, a.min_score))) + "\n")
    print("## Stage 1 speed (one thread, best of 3, same run)\n")
    print("| pack | MB/s per core |\n|---|---:|")
    for p, name in zip(packs, names, strict=True):
        print(f"| {name} | {speed(p, texts, a.speed_mb):,.0f} |")


if __name__ == "__main__":
    main()
