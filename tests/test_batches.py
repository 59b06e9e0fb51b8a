"""`BatchScorer` / `score_batches`: the engine-neutral batch mode behind Ray Data and Spark."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pyarrow as pa
import pytest

import fastscan
from shards import encode, sample_records, small_vocab

SCORE_COLUMNS = [
    "score",
    *fastscan.Scanner().group_names,
    "formats",
    "reject_reason",
    "decision",
    "dropped_by",
    "drop_reason",
]


def sample_batch() -> pa.RecordBatch:
    records = sample_records()
    return pa.RecordBatch.from_pylist(
        [{"id": f"r{i}", "text": r["text"]} for i, r in enumerate(records)]
    )


def test_appends_the_scanners_scores_and_the_keep_rules_decision() -> None:
    batch = sample_batch()
    scorer = fastscan.BatchScorer(min_score=2.0)
    out = scorer(batch)
    assert isinstance(out, pa.RecordBatch)
    assert out.schema.names == ["id", "text", *SCORE_COLUMNS]
    assert out.column("id").equals(batch.column("id"))
    direct = fastscan.Scanner().scan(batch.column("text"))
    assert out.column("score").equals(direct.column("score"))
    assert out.column("tool_call").equals(direct.column("tool_call"))
    expected = ["kept" if s >= 2.0 else "dropped" for s in direct.column("score").to_pylist()]
    assert out.column("decision").to_pylist() == expected
    assert 0 < expected.count("kept") < len(expected)


def test_empty_batches_and_tables_keep_the_output_schema() -> None:
    scorer = fastscan.BatchScorer()
    batch = sample_batch()
    schema = scorer.output_schema(batch.schema)
    empty = scorer(batch.slice(0, 0))
    assert empty.num_rows == 0
    assert empty.schema == schema
    table = pa.Table.from_batches([], schema=batch.schema)
    out = scorer(table)
    assert isinstance(out, pa.Table)
    assert out.num_rows == 0
    assert out.schema == schema
    assert scorer(batch.slice(0, 0)).schema == scorer(batch).schema


def test_chunked_tables_are_scored_chunk_by_chunk() -> None:
    batch = sample_batch()
    table = pa.Table.from_batches([batch.slice(0, 5), batch.slice(5, 0), batch.slice(5)])
    scorer = fastscan.BatchScorer()
    out = scorer(table)
    assert isinstance(out, pa.Table)
    assert out.combine_chunks().to_batches()[0].equals(scorer(batch))


def test_kept_only_and_drop_rejected() -> None:
    rows = [{"text": r["text"]} for r in sample_records()] + [{"text": None}]
    batch = pa.RecordBatch.from_pylist(rows, schema=pa.schema([("text", pa.string())]))
    scorer = fastscan.BatchScorer()
    full = scorer(batch)
    assert full.column("decision").to_pylist()[-1] == "rejected"
    assert full.column("reject_reason").to_pylist()[-1] == "null_text"
    no_rejects = fastscan.BatchScorer(drop_rejected=True)(batch)
    assert no_rejects.num_rows == batch.num_rows - 1
    kept = fastscan.BatchScorer(kept_only=True)(batch)
    assert set(kept.column("decision").to_pylist()) == {"kept"}
    assert kept.num_rows == full.column("decision").to_pylist().count("kept")


def test_require_and_nested_text_field() -> None:
    texts = [r["text"] for r in sample_records()]
    batch = pa.RecordBatch.from_pydict({"meta": pa.array([{"body": t} for t in texts])})
    scorer = fastscan.BatchScorer(text_field="meta.body", require=("tool_call",))
    out = scorer(batch)
    direct = fastscan.Scanner().scan(texts)
    expected = [
        "kept" if s >= 2.0 and c >= 1 else "dropped"
        for s, c in zip(
            direct.column("score").to_pylist(), direct.column("tool_call").to_pylist(), strict=True
        )
    ]
    assert out.column("decision").to_pylist() == expected


def test_token_ids_are_decoded_with_the_tokenizer(tmp_path: Path) -> None:
    texts = [r["text"] for r in sample_records()[:4]]
    vocab_json, vocab = small_vocab(texts)
    path = tmp_path / "tokenizer.json"
    path.write_text(json.dumps(vocab_json), encoding="utf-8")
    tokens = [encode(t, vocab) for t in texts] + [[10**6]]
    batch = pa.RecordBatch.from_pydict({"tokens": pa.array(tokens, pa.list_(pa.int32()))})
    with pytest.raises(ValueError, match="holds token ids"):
        fastscan.BatchScorer()(batch)
    out = fastscan.BatchScorer(tokenizer=str(path))(batch)
    direct = fastscan.Scanner().scan(texts)
    assert out.column("score").to_pylist()[:4] == direct.column("score").to_pylist()
    assert out.column("reject_reason").to_pylist()[4] == "invalid_tokens"


def test_column_name_clash_needs_a_prefix() -> None:
    batch = pa.RecordBatch.from_pydict({"text": ["curl https://x"], "score": [1.0]})
    with pytest.raises(ValueError, match="already has a column 'score'"):
        fastscan.BatchScorer()(batch)
    out = fastscan.BatchScorer(prefix="fastscan_")(batch)
    assert out.schema.names[:3] == ["text", "score", "fastscan_score"]


def test_missing_text_column_is_a_clear_error() -> None:
    batch = pa.RecordBatch.from_pydict({"body": ["x"]})
    with pytest.raises(ValueError, match=r"no text column 'text'.*columns: body"):
        fastscan.BatchScorer()(batch)


def test_pickles_by_its_arguments() -> None:
    scorer = fastscan.BatchScorer(min_score=5.0, kept_only=True, threads=1)
    clone = pickle.loads(pickle.dumps(scorer))
    assert clone.config == scorer.config
    assert clone.kept_only
    assert clone.scanner.threads == 1
    batch = sample_batch()
    assert clone(batch).equals(scorer(batch))


def test_score_batches_streams_for_map_in_arrow() -> None:
    batch = sample_batch()
    parts = [batch.slice(0, 3), batch.slice(3, 0), batch.slice(3)]
    fn = pickle.loads(pickle.dumps(fastscan.score_batches_fn(min_score=2.0)))
    out = list(fn(iter(parts)))
    assert [b.num_rows for b in out] == [3, 0, batch.num_rows - 3]
    assert (
        pa.Table.from_batches(out)
        .combine_chunks()
        .to_batches()[0]
        .equals(fastscan.BatchScorer()(batch))
    )
