"""Documents to read in the report: per group, a few kept ones and the dropped ones that came
closest, and the patterns that hit most often, from the head of the first shards.

Only the head of a few shards is read again (`SHARDS` shards, at most `HEAD_BYTES` of
decompressed JSONL or `HEAD_ROWS` Parquet rows each), so the cost does not grow with the run;
the report says how many documents the sample holds.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from fastscan import _fastscan
from fastscan.corpus import field_at
from fastscan.filter.config import FilterConfig
from fastscan.filter.outputs import batch_texts
from fastscan.filter.plan import open_decompressed
from fastscan.scanner import Scanner

SHARDS = 4
HEAD_BYTES = 16 << 20
HEAD_ROWS = 4096
PER_GROUP = 3
CHARS = 300
TOP_PATTERNS = 15


def _jsonl_head(path: Path, scores: pa.Table, field: str) -> dict[int, str]:
    with open_decompressed(path) as stream:
        head = stream.read(HEAD_BYTES)
    texts: dict[int, str] = {}
    rows = scores.column("row").to_pylist()
    offsets = scores.column("offset").to_pylist()
    lengths = scores.column("length").to_pylist()
    for row, offset, length in zip(rows, offsets, lengths, strict=True):
        if offset is None or offset + length > len(head):
            break
        try:
            text = field_at(json.loads(head[offset : offset + length]), field)
        except ValueError:
            continue
        if isinstance(text, str):
            texts[row] = text
    return texts


def _parquet_head(
    path: Path, cfg: FilterConfig, tokenizer: _fastscan.Tokenizer | None
) -> dict[int, str]:
    with open(path, "rb") as handle:
        source = pq.ParquetFile(handle, pre_buffer=False)
        for batch in source.iter_batches(batch_size=HEAD_ROWS):
            texts, _ = batch_texts(batch, cfg, tokenizer)
            return {
                i: (v.decode("utf-8", "replace") if isinstance(v, bytes) else v)
                for i, v in enumerate(texts.to_pylist())
                if v is not None
            }
    return {}


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
    docs: list[tuple[str, bool]] = []
    shards = [e for e in entries if e["status"] == "ok" and e.get("outputs")][:SHARDS]
    for entry in shards:
        scores = pq.read_table(out / entry["outputs"]["scores"])
        if entry["format"] == "jsonl":
            texts = _jsonl_head(Path(entry["path"]), scores, cfg.text_field)
        else:
            texts = _parquet_head(Path(entry["path"]), cfg, tokenizer)
        if not texts:
            continue
        head = scores.slice(0, max(texts) + 1).to_pylist()
        for row in head:
            text = texts.get(row["row"])
            if text is None or row["decision"] == "rejected":
                continue
            is_kept = row["decision"] == "kept"
            docs.append((text, is_kept))
            doc = {
                "shard": entry["relative"],
                "row": row["row"],
                "score": row["score"],
                "decision": row["decision"],
                "reason": row.get("drop_reason")
                or (None if is_kept else f"pattern score < {cfg.min_score:g}"),
                "text": text[:CHARS],
                "chars": len(text),
            }
            for group, threshold in min_hits.items():
                if (row.get(group) or 0) >= threshold:
                    (kept if is_kept else near)[group].append(doc)
    scanner = Scanner(pack, threads=1, pattern_counts=True)
    read_hits: Counter[str] = Counter()
    kept_hits: Counter[str] = Counter()
    if docs:
        counts = scanner.scan([t for t, _ in docs]).column("pattern_counts").to_pylist()
        names = [
            f"{p.group}{'/' + p.format if p.format else ''} {p.kind}: {p.text[:60]}"
            for p in pack.patterns
        ]
        for (_, is_kept), row_counts in zip(docs, counts, strict=True):
            for name, count in zip(names, row_counts, strict=True):
                if count:
                    read_hits[name] += 1
                    kept_hits[name] += is_kept
    return {
        "documents": len(docs),
        "kept_documents": sum(k for _, k in docs),
        "shards": [e["relative"] for e in shards],
        "groups": {
            g: {
                "kept": kept[g][:PER_GROUP],
                "near_miss": sorted(near[g], key=lambda d: -d["score"])[:PER_GROUP],
            }
            for g in min_hits
        },
        "top_patterns": [
            {"pattern": name, "read": n, "kept": kept_hits[name]}
            for name, n in read_hits.most_common(TOP_PATTERNS)
        ],
    }
