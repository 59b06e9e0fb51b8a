"""fastscan-filter end to end: formats, outputs, accounting, LMFlow, token-id Parquet."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import fastscan
from fastscan.filter import FilterConfig, UsageError
from shards import (
    encode,
    jsonl_bytes,
    many_records,
    read_decompressed,
    sample_records,
    small_vocab,
    write_jsonl,
    write_parquet,
)


def check_accounting(report: dict[str, Any]) -> None:
    for entry in [report["totals"], *report["shards"]]:
        for unit in ("docs", "bytes"):
            parts = sum(entry[d][unit] for d in ("kept", "dropped", "rejected"))
            assert entry["read"][unit] == parts, entry.get("relative")


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """One shard per format, all holding the 16 samples (nested dirs included)."""
    records = sample_records()
    data = jsonl_bytes(records)
    root = tmp_path / "in"
    write_jsonl(root / "a.jsonl", data)
    write_jsonl(root / "sub" / "b.jsonl.gz", data)
    write_jsonl(root / "sub" / "c.jsonl.zst", data)
    write_parquet(root / "d.parquet", records)
    return root


def expected_kept_lines(data: bytes, threshold: float = 2.0) -> bytes:
    scanner = fastscan.Scanner()
    lines = data.splitlines(keepends=True)
    scores = scanner.scan([json.loads(line)["text"] for line in lines]).column("score")
    return b"".join(ln for ln, s in zip(lines, scores.to_pylist(), strict=True) if s >= threshold)


def test_every_format_keeps_the_same_records(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    report = fastscan.filter_shards(corpus, out, threads=2)
    check_accounting(report)
    assert report["totals"]["failed"] == 0
    assert [e["relative"] for e in report["shards"]] == [
        "a.jsonl",
        "d.parquet",
        "sub/b.jsonl.gz",
        "sub/c.jsonl.zst",
    ]
    data = jsonl_bytes(sample_records())
    want = expected_kept_lines(data)
    assert 0 < len(want) < len(data)
    # JSONL kept lines are byte-identical to the input lines, compressed as the input was.
    assert (out / "kept/a.jsonl").read_bytes() == want
    assert read_decompressed(out / "kept/sub/b.jsonl.gz") == want
    assert read_decompressed(out / "kept/sub/c.jsonl.zst") == want
    # Parquet kept rows keep the input schema and values.
    kept = pq.read_table(out / "kept/d.parquet")
    assert kept.schema == pq.read_schema(corpus / "d.parquet")
    want_ids = [json.loads(line)["id"] for line in want.splitlines()]
    assert kept.column("id").to_pylist() == want_ids
    for e in report["shards"]:
        assert e["kept"]["docs"] == len(want_ids)
        assert e["read"]["docs"] == 16


def test_scores_have_one_row_per_record(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    fastscan.filter_shards(corpus, out, threads=1)
    scores = pq.read_table(out / "scores/a.jsonl.parquet")
    data = (corpus / "a.jsonl").read_bytes()
    assert scores.column("row").to_pylist() == list(range(16))
    for offset, length in zip(
        scores.column("offset").to_pylist(), scores.column("length").to_pylist(), strict=True
    ):
        line = data[offset : offset + length]
        assert line.endswith(b"\n")
        assert b"\n" not in line[:-1]
        json.loads(line)
    direct = fastscan.Scanner().scan([r["text"] for r in sample_records()])
    assert scores.column("score").to_pylist() == direct.column("score").to_pylist()
    for g in fastscan.Scanner().group_names:
        assert scores.column(g).to_pylist() == direct.column(g).to_pylist()
    decision = scores.column("decision").to_pylist()
    assert decision == [
        "kept" if s >= 2.0 else "dropped" for s in direct.column("score").to_pylist()
    ]
    parquet_scores = pq.read_table(out / "scores/d.parquet.parquet")
    assert parquet_scores.column("offset").null_count == 16
    assert parquet_scores.column("score").to_pylist() == direct.column("score").to_pylist()


def test_report_files(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    report = fastscan.filter_shards(corpus, out)
    on_disk = json.loads((out / "report.json").read_text())
    assert on_disk["totals"]["read"] == report["totals"]["read"]
    assert on_disk["totals"]["group_hits"]["tool_call"] > 0
    assert sum(on_disk["totals"]["score_histogram"]["counts"]) == 64
    page = (out / "report.html").read_text()
    assert page.startswith("<!doctype html>")
    assert "<svg" in page
    # Nothing loads from the network (sample texts may mention URLs, escaped as text).
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", page)
    assert "@import" not in page
    assert "<script" not in page
    for name in ("kept", "dropped", "tool_call", "hermes", "score of the documents it saw"):
        assert name in page


def test_keep_rule_require_and_min_score(corpus: Path, tmp_path: Path) -> None:
    r = fastscan.filter_shards(corpus / "a.jsonl", tmp_path / "o1", min_score=0.0)
    assert r["totals"]["kept"]["docs"] == 16
    r = fastscan.filter_shards(corpus / "a.jsonl", tmp_path / "o2", require=("schema",))
    direct = fastscan.Scanner().scan([r["text"] for r in sample_records()])
    want = sum(
        1
        for s, c in zip(
            direct.column("score").to_pylist(), direct.column("schema").to_pylist(), strict=True
        )
        if s >= 2.0 and c >= 1
    )
    assert r["totals"]["kept"]["docs"] == want
    with pytest.raises(ValueError, match="nope"):
        fastscan.filter_shards(corpus / "a.jsonl", tmp_path / "o3", require=("nope",))


def test_config_file(corpus: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "cascade.toml"
    cfg.write_text('[keep]\nmin_score = 8.0\n[output]\nformat = "jsonl"\ncompression = "gzip"\n')
    report = fastscan.filter_shards(corpus / "d.parquet", tmp_path / "out", config=cfg)
    kept = read_decompressed(tmp_path / "out/kept/d.parquet.jsonl.gz").decode().splitlines()
    assert len(kept) == report["totals"]["kept"]["docs"] > 0
    assert all(json.loads(line)["text"] for line in kept)
    cfg.write_text("[keep]\nmin_scor = 1\n")
    with pytest.raises(ValueError, match=r"keep\.min_scor"):
        FilterConfig.from_toml(cfg)


def test_lmflow_output(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    report = fastscan.filter_shards(corpus, out, output_format="lmflow", lmflow_shard_mb=1)
    want = [
        r["text"]
        for r, s in zip(
            sample_records(),
            fastscan.Scanner()
            .scan([r["text"] for r in sample_records()])
            .column("score")
            .to_pylist(),
            strict=True,
        )
        if s >= 2.0
    ]
    for stem in ("a.jsonl", "d.parquet", "sub/b.jsonl.gz"):
        doc = json.loads((out / "kept" / f"{stem}.00000.json").read_text())
        assert doc["type"] == "text_only"
        assert [i["text"] for i in doc["instances"]] == want
    assert report["totals"]["kept"]["docs"] == 4 * len(want)


def test_jsonl_to_parquet_output(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    fastscan.filter_shards(corpus / "a.jsonl", out, output_format="parquet")
    table = pq.read_table(out / "kept/a.jsonl.parquet")
    assert table.column_names == ["id", "text"]
    assert table.num_rows == len(
        expected_kept_lines((corpus / "a.jsonl").read_bytes()).splitlines()
    )


def test_nested_text_field(tmp_path: Path) -> None:
    records = [{"meta": {"body": r["text"]}, "id": r["id"]} for r in sample_records()]
    write_jsonl(tmp_path / "in/n.jsonl", jsonl_bytes(records))
    write_parquet(tmp_path / "in/n.parquet", records)
    report = fastscan.filter_shards(tmp_path / "in", tmp_path / "out", text_field="meta.body")
    kept = [e["kept"]["docs"] for e in report["shards"]]
    assert kept[0] == kept[1] > 0
    assert report["totals"]["rejected"]["docs"] == 0


def test_token_id_parquet(tmp_path: Path) -> None:
    texts = [r["text"] for r in sample_records()]
    words = sorted({w for t in texts for w in t.split() if w.isalpha()})
    tokenizer, vocab = small_vocab(words)
    tok_path = tmp_path / "tokenizer.json"
    tok_path.write_text(json.dumps(tokenizer))
    ids: list[list[int] | None] = [[*encode(t, vocab), vocab["<|endoftext|>"]] for t in texts]
    assert sum(len(i or []) for i in ids) < sum(len(t.encode()) for t in texts)  # real merges used
    ids.append([5, 10**6])  # an id outside the vocabulary
    ids.append(None)
    table = pa.table({"tokens": pa.array(ids, pa.list_(pa.int32())), "n": range(len(ids))})
    pq.write_table(table, tmp_path / "in.parquet")
    report = fastscan.filter_shards(
        tmp_path / "in.parquet", tmp_path / "out", tokenizer=str(tok_path)
    )
    check_accounting(report)
    t = report["totals"]
    assert t["rejected"]["docs"] == 2
    assert t["reject_reasons"] == {"invalid_tokens": 1, "null_text": 1}
    direct = fastscan.Scanner().scan([x + "<|endoftext|>" for x in texts])
    want_kept = sum(s >= 2.0 for s in direct.column("score").to_pylist())
    assert t["kept"]["docs"] == want_kept
    scores = pq.read_table(tmp_path / "out/scores/in.parquet.parquet")
    assert scores.column("score").to_pylist()[:16] == direct.column("score").to_pylist()
    # Parquet rejects are JSON lines, zstd-compressed (token lists are large).
    rejects_file = tmp_path / "out/rejects/in.parquet.jsonl.zst"
    rejects = [json.loads(x) for x in read_decompressed(rejects_file).splitlines()]
    assert [(r["row"], r["reason"]) for r in rejects] == [(16, "invalid_tokens"), (17, "null_text")]
    assert "1000000" in rejects[0]["detail"]
    # Without a tokenizer the shard fails with a clear error, and the run says so.
    report = fastscan.filter_shards(tmp_path / "in.parquet", tmp_path / "out2")
    assert report["totals"]["failed"] == 1
    assert "--tokenizer" in report["shards"][0]["error"]


def test_tokenizer_decodes_like_the_reference_table() -> None:
    tokenizer, vocab = small_vocab(["hello", "world"])
    tok = fastscan._fastscan.Tokenizer(json.dumps(tokenizer))
    text = "hello world — ünïcödé\n\ttabs"
    arr = pa.array([encode(text, vocab), [], None], pa.list_(pa.int64()))
    decoded, bad = tok.decode_arrow(arr)
    assert decoded.to_pylist() == [text, "", None]
    assert bad == []
    with pytest.raises(TypeError, match="list"):
        tok.decode_arrow(pa.array(["x"]))


def test_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not found"):
        fastscan.filter_shards(tmp_path / "missing", tmp_path / "out")
    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(UsageError, match="no shards"):
        fastscan.filter_shards(tmp_path / "empty_dir", tmp_path / "out")
    with pytest.raises(UsageError, match="no file matches"):
        fastscan.filter_shards(str(tmp_path / "*.jsonl"), tmp_path / "out")


def test_many_blocks_and_threads_agree(tmp_path: Path) -> None:
    data = jsonl_bytes(many_records(3000))
    write_jsonl(tmp_path / "in/big.jsonl.zst", data)
    outs = []
    for threads, block_mb in ((1, 1), (2, 1), (2, 8)):
        out = tmp_path / f"out{threads}-{block_mb}"
        cfg = FilterConfig(block_mb=block_mb)
        report = fastscan.filter_shards(tmp_path / "in", out, config=cfg, threads=threads)
        check_accounting(report)
        assert report["totals"]["read"]["docs"] == 3000
        outs.append(
            (
                read_decompressed(out / "kept/big.jsonl.zst"),
                pq.read_table(out / "scores/big.jsonl.zst.parquet"),
            )
        )
    assert outs[0][0] == outs[1][0] == outs[2][0] == expected_kept_lines(data)
    assert outs[0][1].equals(outs[1][1])
    assert outs[1][1].equals(outs[2][1])
