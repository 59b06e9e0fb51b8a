"""Documents to read in the report: per group, a few kept ones and the dropped ones that came
closest, and the patterns that hit most often, from the head of the first shards.

Only the head of a few shards is read again (`SHARDS` shards, at most `HEAD_BYTES` of
decompressed JSONL or `HEAD_ROWS` Parquet rows each), so the cost does not grow with the run;
the report says how many documents the sample holds. The head's columns are compared in
Arrow and numpy; only the documents shown become Python objects.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from fastscan import _fastscan
from fastscan.corpus import field_at
from fastscan.filter.config import FilterConfig
from fastscan.filter.outputs import batch_texts
from fastscan.filter.plan import open_decompressed
from fastscan.scanner import Scanner

SHARDS = 4
HEAD_BYTES = 8 << 20
HEAD_ROWS = 4096
PER_GROUP = 3
CHARS = 300
TOP_PATTERNS = 15


def _jsonl_head(path: Path, scores: pa.Table, field: str) -> tuple[np.ndarray, list[str]]:
    """The scores rows (indexes) of the head's readable documents, and their texts."""
    with open_decompressed(path) as stream:
        head = stream.read(HEAD_BYTES)
    offsets = scores.column("offset").to_numpy(zero_copy_only=False)
    lengths = scores.column("length").to_numpy(zero_copy_only=False)
    # A row with no offset (a record too long to read) ends the head, as does its end.
    ends = offsets.astype(np.float64) + lengths
    ends[np.isnan(ends)] = np.inf
    past = np.flatnonzero(ends > len(head))
    stop = int(past[0]) if len(past) else len(ends)
    indexes: list[int] = []
    texts: list[str] = []
    for i in range(stop):
        offset, length = int(offsets[i]), int(lengths[i])
        try:
            text = field_at(json.loads(head[offset : offset + length]), field)
        except ValueError:
            continue
        if isinstance(text, str):
            indexes.append(i)
            texts.append(text)
    return np.asarray(indexes, dtype=np.int64), texts


def _parquet_head(
    path: Path, cfg: FilterConfig, tokenizer: _fastscan.Tokenizer | None
) -> tuple[np.ndarray, list[str]]:
    with open(path, "rb") as handle:
        source = pq.ParquetFile(handle, pre_buffer=False)
        for batch in source.iter_batches(batch_size=HEAD_ROWS):
            texts, _ = batch_texts(batch, cfg, tokenizer)
            pairs = [
                (i, v.decode("utf-8", "replace") if isinstance(v, bytes) else v)
                for i, v in enumerate(texts.to_pylist())
                if v is not None
            ]
            return np.asarray([i for i, _ in pairs], dtype=np.int64), [t for _, t in pairs]
    return np.zeros(0, dtype=np.int64), []


def _examples(
    head: pa.Table,
    texts: list[str],
    shard: str,
    min_hits: Mapping[str, int],
    cfg: FilterConfig,
) -> dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]]:
    """Per group, the first `PER_GROUP` kept documents of the head that reach the group and
    the `PER_GROUP` dropped ones with the highest scores (ties: the earlier row)."""
    kept = pc.equal(head.column("decision"), "kept").to_numpy(zero_copy_only=False)
    scores = head.column("score").to_numpy(zero_copy_only=False)
    reasons = head.column("drop_reason") if "drop_reason" in head.column_names else None

    def doc(i: int) -> dict[str, Any]:
        reason = reasons[i].as_py() if reasons is not None else None
        return {
            "shard": shard,
            "row": head.column("row")[i].as_py(),
            "score": float(scores[i]),
            "decision": "kept" if kept[i] else "dropped",
            "reason": reason or (None if kept[i] else f"pattern score < {cfg.min_score:g}"),
            "text": texts[i][:CHARS],
            "chars": len(texts[i]),
        }

    out = {}
    for group, threshold in min_hits.items():
        hits = head.column(group).to_numpy(zero_copy_only=False) >= threshold
        first_kept = np.flatnonzero(hits & kept)[:PER_GROUP]
        dropped = np.flatnonzero(hits & ~kept)
        closest = dropped[np.argsort(-scores[dropped], kind="stable")][:PER_GROUP]
        out[group] = ([doc(int(i)) for i in first_kept], [doc(int(i)) for i in closest])
    return out


def collect(
    entries: list[dict[str, Any]],
    cfg: FilterConfig,
    tokenizer: _fastscan.Tokenizer | None,
    out: Path,
) -> dict[str, Any]:
    """Samples per group and top patterns from the first `SHARDS` finished shards."""
    pack = cfg.load_pack()
    min_hits = {g.name: max(g.min_hits, 1) for g in pack.groups}
    kept: dict[str, list[dict[str, Any]]] = {g: [] for g in min_hits}
    near: dict[str, list[dict[str, Any]]] = {g: [] for g in min_hits}
    texts: list[str] = []
    is_kept: list[np.ndarray] = []
    shards = [e for e in entries if e["status"] == "ok" and e.get("outputs")][:SHARDS]
    for entry in shards:
        scores = pq.ParquetFile(out / entry["outputs"]["scores"]).read()
        if entry["format"] == "jsonl":
            indexes, head_texts = _jsonl_head(Path(entry["path"]), scores, cfg.text_field)
        else:
            indexes, head_texts = _parquet_head(Path(entry["path"]), cfg, tokenizer)
        head = scores.take(pa.array(indexes, pa.int64()))
        readable = pc.not_equal(head.column("decision"), "rejected")
        head = head.filter(readable)
        head_texts = [t for t, r in zip(head_texts, readable.to_pylist(), strict=True) if r]
        if not head_texts:
            continue
        for group, (k, n) in _examples(head, head_texts, entry["relative"], min_hits, cfg).items():
            kept[group].extend(k)
            near[group].extend(n)
        texts.extend(head_texts)
        is_kept.append(pc.equal(head.column("decision"), "kept").to_numpy(zero_copy_only=False))
    top: list[dict[str, Any]] = []
    kept_mask = np.concatenate(is_kept) if is_kept else np.zeros(0, dtype=bool)
    if texts:
        scanner = Scanner(pack, threads=1, pattern_counts=True)
        counts = scanner.scan(texts).column("pattern_counts")
        width = len(pack.patterns)
        hits = counts.flatten().to_numpy(zero_copy_only=False).reshape(len(texts), width) > 0
        read_hits = hits.sum(axis=0)
        kept_hits = hits[kept_mask].sum(axis=0)
        names = [
            f"{p.group}{'/' + p.format if p.format else ''} {p.kind}: {p.text[:60]}"
            for p in pack.patterns
        ]
        # The most read first; ties in pattern order.
        for p in np.argsort(-read_hits, kind="stable")[:TOP_PATTERNS]:
            if read_hits[p]:
                top.append(
                    {"pattern": names[p], "read": int(read_hits[p]), "kept": int(kept_hits[p])}
                )
    return {
        "documents": len(texts),
        "kept_documents": int(kept_mask.sum()),
        "shards": [e["relative"] for e in shards],
        "groups": {
            g: {
                "kept": kept[g][:PER_GROUP],
                "near_miss": sorted(near[g], key=lambda d: -d["score"])[:PER_GROUP],
            }
            for g in min_hits
        },
        "top_patterns": top,
    }
