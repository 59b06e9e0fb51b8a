"""Builders of small shard directories for the filter tests (no ../shared needed)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).parent.parent
SAMPLES = REPO / "examples" / "samples.jsonl"


def sample_records() -> list[dict[str, Any]]:
    """The 16 bundled samples (10 tool-use, 6 not)."""
    return [json.loads(line) for line in SAMPLES.read_text(encoding="utf-8").splitlines()]


def jsonl_bytes(records: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode()


def write_jsonl(path: Path, data: bytes) -> Path:
    """Writes JSONL bytes compressed as the file name says (.gz, .zst, or plain)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.name.endswith(".gz"):
        path.write_bytes(gzip.compress(data, mtime=0))
    elif path.name.endswith(".zst"):
        with pa.CompressedOutputStream(str(path), "zstd") as out:
            out.write(data)
    else:
        path.write_bytes(data)
    return path


def write_parquet(path: Path, records: list[dict[str, Any]], row_group_size: int = 5) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(records), path, row_group_size=row_group_size)
    return path


def many_records(n: int) -> list[dict[str, Any]]:
    """`n` records cycling through the samples, each with a unique id."""
    base = sample_records()
    return [{**base[i % len(base)], "id": f"r{i}"} for i in range(n)]


def read_decompressed(path: Path) -> bytes:
    if path.name.endswith(".gz"):
        return gzip.decompress(path.read_bytes())
    if path.name.endswith(".zst"):
        with pa.CompressedInputStream(str(path), "zstd") as f:
            return bytes(f.read())
    return path.read_bytes()


def tree_bytes(
    root: Path, subdirs: tuple[str, ...] = ("kept", "scores", "rejects")
) -> dict[str, bytes]:
    """Every output file under `subdirs` of a run, by relative path."""
    out = {}
    for sub in subdirs:
        for f in sorted((root / sub).rglob("*")):
            if f.is_file():
                out[f.relative_to(root).as_posix()] = f.read_bytes()
    return out


# GPT-2's byte <-> unicode table, written from its published definition.
def bytes_to_unicode() -> dict[int, str]:
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("\xa1"), ord("\xac") + 1))
        + list(range(ord("\xae"), ord("\xff") + 1))
    )
    table = {b: chr(b) for b in printable}
    n = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + n)
            n += 1
    return table


def small_vocab(words: list[str]) -> tuple[dict[str, Any], dict[str, int]]:
    """A tokenizer.json with the 256 byte tokens, one token per word of `words` (with and
    without a leading space) and an end-of-text special token; also the token -> id map."""
    table = bytes_to_unicode()
    vocab = {table[b]: b for b in range(256)}
    for w in words:
        for form in (w, " " + w):
            key = "".join(table[b] for b in form.encode())
            vocab.setdefault(key, len(vocab))
    eot = len(vocab)
    tokenizer = {
        "model": {"type": "BPE", "vocab": vocab, "merges": []},
        "added_tokens": [{"id": eot, "content": "<|endoftext|>", "special": True}],
    }
    return tokenizer, {**vocab, "<|endoftext|>": eot}


def encode(text: str, vocab: dict[str, int]) -> list[int]:
    """Greedy longest-match encoding with a `small_vocab` vocabulary (enough for tests)."""
    table = bytes_to_unicode()
    spelled = "".join(table[b] for b in text.encode())
    ids, i = [], 0
    while i < len(spelled):
        for j in range(len(spelled), i, -1):
            if spelled[i:j] in vocab:
                ids.append(vocab[spelled[i:j]])
                i = j
                break
    return ids
