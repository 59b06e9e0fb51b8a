"""Selection quality of a cascade on labeled text: per stage and for the whole cascade.

For the cascade cut after each stage (that stage and all before it), over positives and
negatives (hard negatives count as negatives and are also reported alone):

* recall (kept positives / positives), false-positive rate (kept negatives / negatives),
  precision (kept positives / kept documents);
* PR-AUC (average precision) of the ranking score, and recall at 90 / 95 / 99% precision.
  A document's ranking score after stage k is the pair (stages of the first k it passed, the
  score of the last of them that has one): documents that got further rank higher, and among
  equals the latest stage's score orders them. For stage 1 that is the pattern score;
* per `kind`: recall of each positive kind, keep rate of each negative kind.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from fastscan.cascade import Cascade

PRECISIONS = (0.90, 0.95, 0.99)
LABELS = ("positive", "negative", "hard_negative")


@dataclass
class Labeled:
    texts: list[str]
    labels: list[str]  # one of LABELS
    kinds: list[str | None]


def average_precision(
    keys: Sequence[Any], positive: Sequence[bool]
) -> tuple[float, list[tuple[float, float]]]:
    """AP of ranking by `keys` (higher first; tied keys form one step), and the PR points."""
    total = sum(positive)
    if total == 0:
        return 0.0, []
    order = sorted(range(len(keys)), key=lambda i: keys[i], reverse=True)
    ap = 0.0
    tp = seen = 0
    prev_recall = 0.0
    points = []
    i = 0
    while i < len(order):
        j = i
        while j < len(order) and keys[order[j]] == keys[order[i]]:
            tp += positive[order[j]]
            seen += 1
            j += 1
        precision, recall = tp / seen, tp / total
        ap += (recall - prev_recall) * precision
        prev_recall = recall
        points.append((precision, recall))
        i = j
    return ap, points


def recall_at_precision(points: list[tuple[float, float]], target: float) -> float:
    return max((r for p, r in points if p >= target), default=0.0)


def _rates(kept: list[bool], data: Labeled) -> dict[str, Any]:
    pos = [k for k, lab in zip(kept, data.labels, strict=True) if lab == "positive"]
    neg = [k for k, lab in zip(kept, data.labels, strict=True) if lab == "negative"]
    hard = [k for k, lab in zip(kept, data.labels, strict=True) if lab == "hard_negative"]
    all_neg = neg + hard
    kept_total = sum(kept)
    return {
        "recall": sum(pos) / len(pos) if pos else None,
        "fpr": sum(all_neg) / len(all_neg) if all_neg else None,
        "fpr_negatives": sum(neg) / len(neg) if neg else None,
        "fpr_hard_negatives": sum(hard) / len(hard) if hard else None,
        "precision": sum(pos) / kept_total if kept_total else None,
        "kept": kept_total,
    }


def _by_kind(kept: list[bool], data: Labeled) -> dict[str, dict[str, dict[str, Any]]]:
    totals: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for k, lab, kind in zip(kept, data.labels, data.kinds, strict=True):
        slot = totals[(lab, kind or "(none)")]
        slot["docs"] += 1
        slot["kept"] += k
    out: dict[str, dict[str, dict[str, Any]]] = {lab: {} for lab in LABELS}
    for (lab, kind), c in sorted(totals.items()):
        out[lab][kind] = {"docs": c["docs"], "kept": c["kept"], "rate": c["kept"] / c["docs"]}
    return out


def evaluate(cascade: Cascade, data: Labeled) -> dict[str, Any]:
    """Runs the cascade on the labeled texts and measures every cut (see the module docs)."""
    result = cascade.run(pa.array(data.texts, pa.large_string()))
    table = result.table
    passed = table.column("stages_passed").to_pylist()
    positive = [lab == "positive" for lab in data.labels]
    stage_scores: list[list[float | None]] = []
    for stage in cascade.stages:
        name = {"patterns": "score", "dsir": "log_importance", "semantic": "similarity"}.get(
            stage.name
        )
        column = name if name in table.schema.names else None
        stage_scores.append(table.column(column).to_pylist() if column else [None] * len(passed))
    stages = []
    for k, stage in enumerate(cascade.stages):
        kept = [p > k for p in passed]
        keys = []
        for i in range(len(passed)):
            reached = min(max(passed[i], 0), k + 1)  # stages of the first k+1 passed
            last = None
            for s in range(min(reached, k), -1, -1):  # the deepest scored stage it got to
                if stage_scores[s][i] is not None:
                    last = stage_scores[s][i]
                    break
            keys.append((reached, last if last is not None else float("-inf")))
        ap, points = average_precision(keys, positive)
        line = {"stage": stage.name, **_rates(kept, data), "pr_auc": ap}
        for p in PRECISIONS:
            line[f"recall_at_{round(p * 100)}p"] = recall_at_precision(points, p)
        line["by_kind"] = _by_kind(kept, data)
        stages.append(line)
    funnel = [f.to_dict() for f in result.funnel]
    return {
        "documents": {lab: data.labels.count(lab) for lab in LABELS},
        "stages": stages,
        "cascade": {k: v for k, v in stages[-1].items() if k != "stage"},
        "funnel": funnel,
    }


def table_text(report: dict[str, Any]) -> str:
    """The evaluation as Markdown tables: per stage, then per kind for the whole cascade."""
    lines = [
        "| after stage | recall | FPR (neg) | FPR (hard neg) | precision | PR-AUC "
        "| R@90%P | R@95%P | R@99%P |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]

    def pct(v: float | None) -> str:
        return "-" if v is None else f"{100 * v:.1f}%"

    for s in report["stages"]:
        lines.append(
            f"| {s['stage']} | {pct(s['recall'])} | {pct(s['fpr_negatives'])} "
            f"| {pct(s['fpr_hard_negatives'])} | {pct(s['precision'])} | {s['pr_auc']:.3f} "
            f"| {pct(s['recall_at_90p'])} | {pct(s['recall_at_95p'])} | {pct(s['recall_at_99p'])} |"
        )
    lines += ["", "| label | kind | docs | kept (whole cascade) |", "|---|---|---:|---:|"]
    for label, kinds in report["stages"][-1]["by_kind"].items():
        for kind, c in kinds.items():
            lines.append(f"| {label} | {kind} | {c['docs']} | {c['kept']} ({pct(c['rate'])}) |")
    lines += [
        "",
        "| stage | docs in | docs out | s | docs/s | MB/s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for f in report["funnel"]:
        lines.append(
            f"| {f['stage']} | {f['docs_in']:,} | {f['docs_out']:,} | {f['seconds']:.2f} "
            f"| {f['docs_per_s'] or 0:,.0f} | {f['mb_per_s'] or 0:,.2f} |"
        )
    return "\n".join(lines)
