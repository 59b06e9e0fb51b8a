"""Speed of each cascade stage on the same texts: documents/s and MB/s per core.

    python benches/stage_speed.py CORPUS [--mb 50] [--threads 1,2] [--semantic-docs 256]

CORPUS is a labeled directory (e.g. ../shared/data/labeled) or a JSONL(.gz) file. Stages 1,
2 and DSIR run on the corpus texts repeated to --mb megabytes (an Arrow large_string array,
best of 3); the semantic stage (all-MiniLM-L6-v2 on the CPU unless torch sees a GPU) runs on
--semantic-docs of them, after the model is loaded and the gold set embedded. The DSIR model is
fitted on the first half of the texts against the second (its speed does not depend on what it
was fitted on).
"""

from __future__ import annotations

import argparse
import sys
import time
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import fastscan
from corpus import as_arrow, best_of, nbytes, read_texts, repeat_to
from fastscan.ngrams import NgramModel


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corpus")
    ap.add_argument("--mb", type=float, default=50.0)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--semantic-docs", type=int, default=256)
    a = ap.parse_args()
    base = read_texts(a.corpus)
    texts = repeat_to(base, a.mb)
    array = as_arrow(texts)
    mb = nbytes(texts) / 1e6
    half = len(base) // 2
    print(f"{len(texts):,} documents, {mb:.1f} MB\n")
    print("| stage | threads | docs | s | docs/s | MB/s | docs/s per core | MB/s per core |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")

    def row(name: str, threads: int, docs: int, size_mb: float, seconds: float) -> None:
        print(
            f"| {name} | {threads} | {docs:,} | {seconds:.3f} | {docs / seconds:,.0f} "
            f"| {size_mb / seconds:,.1f} | {docs / seconds / threads:,.0f} "
            f"| {size_mb / seconds / threads:,.1f} |"
        )

    for threads in (int(t) for t in a.threads.split(",")):
        scanner = fastscan.Scanner(threads=threads)
        model = NgramModel.fit(base[:half], base[half:], threads=threads)
        for name, fn in (
            ("patterns (Scanner.scan)", scanner.scan),
            ("statistics (Scanner.stats)", scanner.stats),
            ("DSIR importance", model.importance),
        ):
            row(name, threads, len(texts), mb, best_of(3, partial(fn, array)))
    stage = fastscan.SemanticStage("tool-use", cache_dir="")
    started = time.perf_counter()
    stage.prepare()
    setup = time.perf_counter() - started
    sample = texts[: a.semantic_docs]
    seconds = best_of(1, lambda: stage.similarity(sample))
    import torch

    row(
        f"semantic ({stage.resolved_device}, {torch.get_num_threads()} torch threads)",
        torch.get_num_threads(),
        len(sample),
        nbytes(sample) / 1e6,
        seconds,
    )
    print(f"\nsemantic set-up (model load + {len(stage.gold)} gold texts): {setup:.1f} s")


if __name__ == "__main__":
    main()
