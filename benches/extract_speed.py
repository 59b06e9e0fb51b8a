"""Extraction speed, beside plain Python in the same run.

1. Synthetic OpenAPI documents (prose around a fenced JSON spec, 4-16 operations each, local
   ``$ref`` request bodies) in a JSONL file: ``fastscan.extract`` on one thread (writing its
   outputs) beside a plain-Python pass over the same file (``json.loads`` of each record, a
   regex for the fenced block, ``json.loads`` of the spec, a walk over paths, operations,
   parameters and request bodies). Both must find the same operations.
2. One document holding many specs (Python functions, each called once beside it, and each
   name twice, so half are rejected as duplicates) at 1,000 to 100,000 specs: the time per
   spec stays flat when extraction is linear in the document (it was quadratic: 100,000
   specs took 72 s).
3. With a corpus directory (``../shared/data/labeled``): every extractor over its positives,
   on one thread, and the per-extractor table (documents with a spec, specs, rejects, calls).

    python benches/extract_speed.py [CORPUS] --mb 50
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import fastscan.toolcalls as tc

FENCE = re.compile(r"```json\n(.*?)```", re.S)
METHODS = ("get", "put", "post", "delete", "patch")


def openapi_doc(rng: random.Random, i: int) -> str:
    paths: dict[str, Any] = {}
    for k in range(rng.randint(4, 16)):
        path = f"/v1/things{i}/{k}/{{id}}"
        method = rng.choice(METHODS)
        op: dict[str, Any] = {
            "operationId": f"op{i}_{k}",
            "summary": "Does a thing with the resource and returns it.",
            "parameters": [
                {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}},
                {
                    "name": "limit",
                    "in": "query",
                    "schema": {"type": "integer"},
                    "description": "Page size.",
                },
            ],
            "responses": {"200": {"description": "ok"}},
        }
        if method in ("post", "put", "patch"):
            op["requestBody"] = {
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}}
            }
        paths[path] = {method: op}
    spec = {
        "openapi": "3.0.0",
        "info": {"title": f"API {i}", "version": "1"},
        "paths": paths,
        "components": {
            "schemas": {
                "Thing": {
                    "type": "object",
                    "required": ["name"],
                    "properties": {
                        "name": {"type": "string"},
                        "size": {"type": "number"},
                        "tags": {"type": "array", "items": {"type": "string"}},
                    },
                }
            }
        },
    }
    body = json.dumps(spec, indent=2)
    prose = "The reference for this service."
    return f"# API {i}\n\n{prose}\n\n```json\n{body}\n```\n\nSee also the guide.\n"


def python_extract(text: str) -> list[str]:
    """Plain Python: operations of the fenced OpenAPI JSON (names only kept)."""
    names = []
    for block in FENCE.findall(text):
        spec = json.loads(block)
        schemas = spec.get("components", {}).get("schemas", {})
        for path, item in spec.get("paths", {}).items():
            for method in METHODS:
                op = item.get(method)
                if not isinstance(op, dict):
                    continue
                params = {p["name"]: p.get("schema", {}) for p in op.get("parameters", [])}
                body = (
                    op.get("requestBody", {})
                    .get("content", {})
                    .get("application/json", {})
                    .get("schema")
                )
                if body and "$ref" in body:
                    body = schemas.get(body["$ref"].rsplit("/", 1)[-1], {})
                if body:
                    params.update(body.get("properties", {}))
                names.append(op.get("operationId") or f"{method.upper()} {path}")
    return names


def python_file(path: Path) -> list[list[str]]:
    """The plain-Python pass over a JSONL file of documents."""
    with path.open() as fh:
        return [python_extract(json.loads(line)["text"]) for line in fh]


def many_specs_doc(n: int) -> str:
    """One document: `n` Python function specs (each name twice) and a call of each."""
    parts = []
    for i in range(n // 2):
        for _ in range(2):
            parts.append(f'def tool_{i}(city: str, days: int = 3) -> dict:\n    """Forecast."""\n')
        parts.append(f"Then: tool_{i}(city='Oslo', days=2)\n")
    return "\n".join(parts)


def scaling() -> None:
    print("| specs in one document | seconds | µs per spec | specs kept | calls |")
    print("|---:|---:|---:|---:|---:|")
    tc.extract_texts([many_specs_doc(100)], threads=1)  # warm up
    for n in (1_000, 10_000, 100_000):
        text = many_specs_doc(n)
        t, res = timed(lambda text=text: tc.extract_texts([text], threads=1))
        r = res.report
        print(f"| {n:,} | {t:.3f} | {t / n * 1e6:.1f} | {r['specs']:,} | {r['calls']:,} |")
    print()


def timed(fn: Any) -> tuple[float, Any]:
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "corpus", nargs="?", type=Path, help="a labeled corpus directory (positives.jsonl.gz)"
    )
    ap.add_argument("--mb", type=float, default=50, help="MB of synthetic OpenAPI documents")
    args = ap.parse_args()
    scaling()
    rng = random.Random(0)
    docs: list[str] = []
    size = 0
    while size < args.mb * 1e6:
        docs.append(openapi_doc(rng, len(docs)))
        size += len(docs[-1].encode())
    work = Path(tempfile.mkdtemp(prefix="fastscan-extract-"))
    src = work / "docs.jsonl"
    src.write_text("".join(json.dumps({"text": d}) + "\n" for d in docs))
    tc.extract(src, work / "warm", threads=1)  # warm up
    t_fs, fs = timed(lambda: tc.extract(src, work / "out", threads=1))
    t_py, py = timed(lambda: python_file(src))
    shutil.rmtree(work, ignore_errors=True)
    py_ops = sum(len(x) for x in py)
    assert fs.report["specs"] == py_ops, (fs.report["specs"], py_ops)
    mb = size / 1e6
    print(f"{len(docs):,} OpenAPI documents, {mb:,.1f} MB, {py_ops:,} operations\n")
    print("| extraction | docs/s | MB/s per core | vs Python |")
    print("|---|---:|---:|---:|")
    print(
        f"| fastscan extract (1 thread) | {len(docs) / t_fs:,.0f} | {mb / t_fs:.1f} "
        f"| {t_py / t_fs:.1f}x |"
    )
    print(
        f"| Python regex + json.loads + walk | {len(docs) / t_py:,.0f} | {mb / t_py:.1f} | 1.0x |"
    )
    if args.corpus is None:
        return
    with gzip.open(args.corpus / "positives.jsonl.gz", "rt") as fh:
        texts = [json.loads(line)["text"] for line in fh]
    cmb = sum(len(t.encode()) for t in texts) / 1e6
    t_c, res = timed(lambda: tc.extract_texts(texts, threads=1))
    r = res.report
    print(
        f"\n{args.corpus}/positives.jsonl.gz: {len(texts):,} documents, {cmb:.1f} MB, "
        f"{cmb / t_c:.1f} MB/s per core; {r['documents_with_spec']:,} with a spec, "
        f"{r['specs']:,} specs, {r['calls']:,} calls\n"
    )
    print("| extractor | documents with a spec | specs | rejected | calls |")
    print("|---|---:|---:|---|---:|")
    for name, s in r["extractors"].items():
        rejected = ", ".join(f"{k} {v}" for k, v in s["rejected"].items()) or "-"
        print(
            f"| {name} | {s['documents_with_spec']:,} | {s['specs']:,} | {rejected} "
            f"| {s['calls']:,} |"
        )


if __name__ == "__main__":
    main()
