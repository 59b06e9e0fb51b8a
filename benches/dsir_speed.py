"""DSIR importance weights: fastscan beside the reference implementation, in one run.

    python benches/dsir_speed.py LABELED_DIR [--docs 20000] [--ref-docs 300] [--buckets 10000]

LABELED_DIR holds positives.jsonl.gz (the target) and negatives / hard_negatives /
unlabeled .jsonl.gz (the raw sample), e.g. ../shared/data/labeled. Both implementations fit
on the same texts; then each computes the log importance weight of raw documents: the
reference (PyPI ``data-selection``: nltk WordPunctTokenizer, SHA-256 per n-gram, numpy dot)
on --ref-docs of them (every k-th, so the same mix of lengths), one process; fastscan on
--docs, with 1 and 2 threads, from a list of str and from an Arrow array. Prints documents/s,
MB/s, per core, and the ratio to the reference per core.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from corpus import as_arrow, nbytes
from fastscan.ngrams import NgramModel


def read(path: Path) -> list[str]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(line)["text"] for line in f if line.strip()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("labeled")
    ap.add_argument("--docs", type=int, default=20000)
    ap.add_argument("--ref-docs", type=int, default=300)
    ap.add_argument("--buckets", type=int, default=10000)
    a = ap.parse_args()
    root = Path(a.labeled)
    target = read(root / "positives.jsonl.gz")
    raw = [
        t
        for name in ("negatives", "hard_negatives", "unlabeled")
        for t in read(root / f"{name}.jsonl.gz")
    ]
    docs = (raw * (a.docs // len(raw) + 1))[: a.docs]
    # The same mix of lengths as the full set: every k-th document.
    ref_docs = docs[:: max(1, len(docs) // a.ref_docs)][: a.ref_docs]
    print(
        f"target {len(target)} docs, raw {len(raw)} docs; scoring {len(docs)} docs "
        f"({nbytes(docs) / 1e6:.1f} MB), reference on {len(ref_docs)} "
        f"({nbytes(ref_docs) / 1e6:.2f} MB); {a.buckets} buckets, unigrams + bigrams\n"
    )
    from data_selection import HashedNgramDSIR

    with tempfile.TemporaryDirectory() as tmp:
        paths = {}
        for name, texts in (("target", target), ("raw", raw)):
            paths[name] = Path(tmp) / f"{name}.jsonl"
            paths[name].write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
        dsir = HashedNgramDSIR(
            raw_datasets=[str(paths["raw"])],
            target_datasets=[str(paths["target"])],
            cache_dir=str(Path(tmp) / "cache"),
            num_proc=1,
            num_buckets=a.buckets,
        )
        started = time.perf_counter()
        dsir.fit_importance_estimator(num_tokens_to_fit="all")
        ref_fit = time.perf_counter() - started
        started = time.perf_counter()
        for text in ref_docs:
            dsir.importance_estimator(dsir.featurizer(text))
        ref_s = time.perf_counter() - started
    started = time.perf_counter()
    NgramModel.fit(target, raw, buckets=a.buckets, threads=1)
    our_fit = time.perf_counter() - started
    ref_rate = len(ref_docs) / ref_s
    mb = nbytes(docs) / 1e6
    print(
        "| implementation | threads | docs | s | docs/s | MB/s | docs/s per core | vs reference |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    print(
        f"| data-selection 1.0.3 (reference) | 1 | {len(ref_docs)} | {ref_s:.2f} "
        f"| {ref_rate:,.0f} | {nbytes(ref_docs) / 1e6 / ref_s:.2f} | {ref_rate:,.0f} | 1x |"
    )
    arrow = as_arrow(docs)
    for threads in (1, 2):
        model = NgramModel.fit(target, raw, buckets=a.buckets, threads=threads)
        for label, texts in (("list[str]", docs), ("Arrow", arrow)):
            best = float("inf")
            for _ in range(3):
                started = time.perf_counter()
                model.importance(texts)
                best = min(best, time.perf_counter() - started)
            rate = len(docs) / best
            print(
                f"| fastscan NgramModel.importance, {label} | {threads} | {len(docs)} "
                f"| {best:.2f} | {rate:,.0f} | {mb / best:,.0f} | {rate / threads:,.0f} "
                f"| {rate / threads / ref_rate:,.0f}x |"
            )
    print(
        f"\nfit on target + raw ({nbytes(target + raw) / 1e6:.1f} MB): reference {ref_fit:.2f} s, "
        f"fastscan {our_fit:.2f} s (1 thread), {ref_fit / our_fit:,.0f}x"
    )


if __name__ == "__main__":
    main()
