"""The semantic stage's backends on the same stage-1 survivors: speed, memory, ranking.

    python benches/semantic_speed.py ../shared/data/labeled [--docs 800] [--threads 2]

Stage 1 (the tool-use pack at the cascade's ``min_score = 1``) runs over the positives,
negatives and hard negatives of CORPUS; a fixed sample of its survivors (--docs: every
negative survivor, positives drawn with a fixed seed for the rest) is scored against the
built-in gold set by each option, each in a fresh process (after its model is loaded and the
gold set embedded: set-up is reported apart). Printed in
one table: documents/s and per core, peak RSS of the process, set-up seconds, and the average
precision of the similarity on those survivors (positives against negatives + hard
negatives), with today's path (sentence-transformers, torch fp32) as the baseline. Then, for
the static tier, the share of survivors the transformer would still see at 99% and 99.5%
recall of the static tier.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

OPTIONS: list[tuple[str, dict[str, Any]]] = [
    (
        "torch fp32, 256 tokens, batch 64 (sentence-transformers; before)",
        {"backend": "torch", "max_tokens": 256, "batch_size": 64},
    ),
    ("torch fp32, 128 tokens, batch 64", {"backend": "torch", "max_tokens": 128, "batch_size": 64}),
    ("onnx fp32, 256 tokens", {"backend": "onnx", "quantize": False, "max_tokens": 256}),
    ("onnx int8, 256 tokens", {"backend": "onnx", "max_tokens": 256}),
    ("onnx fp32, 128 tokens", {"backend": "onnx", "quantize": False}),
    ("onnx int8, 128 tokens (the default: SemanticStage(gold))", {}),
    ("static (model2vec distilled from MiniLM, 256 dims)", {"static": True}),
]


def survivors(corpus: Path, docs: int) -> tuple[list[str], list[int], list[str]]:
    """Texts, labels (1 positive) and source halves (``tune`` / ``held-out``, as
    selection_quality.py splits by source) of a sample of stage-1 survivors."""
    import fastscan
    from selection_quality import load

    records = load(str(corpus))
    texts = [r["text"] for r in records]
    labels = [int(r["label"] == "positive") for r in records]
    keep = fastscan.PatternStage(min_score=1.0).apply(__import__("pyarrow").array(texts)).keep
    kept = [i for i, k in enumerate(keep.to_pylist()) if k]
    # Every negative survivor (stage 1 passes few), positives to fill --docs.
    negatives = [i for i in kept if not labels[i]]
    positives = [i for i in kept if labels[i]]
    random.Random(0).shuffle(positives)
    chosen = sorted(negatives + positives[: max(docs - len(negatives), 0)])
    halves = [records[i]["half"] for i in chosen]
    return [texts[i] for i in chosen], [labels[i] for i in chosen], halves


def worker(option: dict[str, Any], texts_file: str, threads: int) -> dict[str, Any]:
    import os

    os.environ["FASTSCAN_THREADS"] = str(threads)
    import fastscan

    if option.get("backend") == "torch":
        import torch  # imported only here: its memory is not charged to the other options

        torch.set_num_threads(threads)

    texts = json.loads(Path(texts_file).read_text(encoding="utf-8"))
    started = time.perf_counter()
    if option.get("static"):
        stage: Any = fastscan.StaticStage("tool-use", cache_dir="")
    else:
        stage = fastscan.SemanticStage("tool-use", cache_dir="", **option)
    stage.prepare()
    setup = time.perf_counter() - started
    started = time.perf_counter()
    sims = stage.similarity(texts)
    seconds = time.perf_counter() - started
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": seconds, "setup": setup, "rss_mib": rss, "sims": sims,
            "describe": stage.describe()}  # fmt: skip


def average_precision(labels: list[int], scores: list[float]) -> float:
    from sklearn.metrics import average_precision_score

    return float(average_precision_score(labels, scores))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corpus", nargs="?")
    ap.add_argument("--docs", type=int, default=800)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--texts", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker), args.texts, args.threads)))
        return
    texts, labels, halves = survivors(Path(args.corpus), args.docs)
    counts = {h: (sum(1 for x, y in zip(halves, labels, strict=True) if x == h and y),
                  sum(1 for x, y in zip(halves, labels, strict=True) if x == h and not y))
              for h in ("tune", "held-out")}  # fmt: skip
    print(f"halves by source (positives, negatives): {counts}")
    print(
        f"{len(texts)} stage-1 survivors ({sum(labels)} positives, {len(labels) - sum(labels)} "
        f"negatives and hard negatives) of {args.corpus}; {args.threads} threads; "
        f"{sum(len(t.encode()) for t in texts) / 1e6:.1f} MB of text"
    )
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(texts, f)
    rows = []
    for name, option in OPTIONS:
        done = subprocess.run(
            [
                sys.executable,
                __file__,
                "--worker",
                json.dumps(option),
                "--texts",
                f.name,
                "--threads",
                str(args.threads),
            ],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            print(f"{name}: failed\n{done.stderr[-2000:]}", file=sys.stderr)
            continue
        result = json.loads(done.stdout.strip().splitlines()[-1])
        result["name"] = name
        result["ap"] = average_precision(labels, result["sims"])
        for part in ("tune", "held-out"):
            pick = [i for i, h in enumerate(halves) if h == part]
            result[part] = average_precision(
                [labels[i] for i in pick], [result["sims"][i] for i in pick]
            )
        rows.append(result)
    base = rows[0]
    base_rate = len(texts) / base["seconds"]
    print()
    print(
        "| option | docs/s | docs/s per core | vs before | peak RSS MiB | set-up s | AP "
        "| AP - before | AP tune / held-out |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        rate = len(texts) / r["seconds"]
        print(
            f"| {r['name']} | {rate:,.1f} | {rate / args.threads:,.1f} | {rate / base_rate:.1f}x | "
            f"{r['rss_mib']:,.0f} | {r['setup']:.1f} | {r['ap']:.4f} | "
            f"{r['ap'] - base['ap']:+.4f} | {r['tune']:.4f} / {r['held-out']:.4f} |"
        )
    static = next((r for r in rows if "static" in r["name"]), None)
    if static is not None:
        positives = sorted(s for s, y in zip(static["sims"], labels, strict=True) if y)
        print()
        negatives = [s for s, y in zip(static["sims"], labels, strict=True) if not y]
        for recall in (0.99, 0.995):
            cut = positives[int((1 - recall) * len(positives))]
            passed = sum(s >= cut for s in static["sims"]) / len(texts)
            dropped = sum(s < cut for s in negatives)
            print(
                f"static tier at {recall:.1%} recall (similarity >= {cut:.3f}): the transformer "
                f"sees {passed:.1%} of these survivors; the tier drops {dropped} of the "
                f"{len(negatives)} negatives"
            )


if __name__ == "__main__":
    main()
