"""The pipelines users already run: the real datatrove pipeline with `FastscanFilter`, and the
Hugging Face ``datasets`` recipe (`Dataset.map` over Arrow batches with `BatchScorer`), each
keeping exactly what ``fastscan-filter`` keeps on the same shard."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pytest

import fastscan
import requires
from shards import jsonl_bytes, many_records, sample_records, write_jsonl

RECORDS = sample_records() + many_records(200)


def _cli_kept_ids(shard_dir: Path, out: Path, **settings: Any) -> list[str]:
    report = fastscan.filter_shards(shard_dir, out, **settings)
    assert report["totals"]["failed"] == 0
    lines = (out / "kept" / "docs.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["id"] for line in lines]


def test_datatrove_pipeline_keeps_what_the_cli_keeps(tmp_path: Path) -> None:
    requires.module("datatrove", "datatrove")
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter

    from fastscan.integrations.datatrove import FastscanFilter

    write_jsonl(tmp_path / "in" / "docs.jsonl", jsonl_bytes(RECORDS))
    config = tmp_path / "c.toml"
    config.write_text("[keep]\nmin_score = 1.0\n[stats]\nmin = { words = 35 }\n", "utf-8")
    cli = _cli_kept_ids(tmp_path / "in", tmp_path / "cli", config=str(config))
    LocalPipelineExecutor(
        pipeline=[
            JsonlReader(str(tmp_path / "in")),
            FastscanFilter(str(config), batch_size=64),
            JsonlWriter(str(tmp_path / "dt"), compression=None),
        ],
        tasks=1,
        logging_dir=str(tmp_path / "logs"),
    ).run()
    kept = [
        json.loads(line)
        for f in sorted((tmp_path / "dt").glob("*.jsonl"))
        for line in f.read_text(encoding="utf-8").splitlines()
    ]
    assert [d["id"] for d in kept] == cli
    assert 0 < len(cli) < len(RECORDS)
    assert all(d["metadata"]["fastscan_score"] >= 1.0 for d in kept)
    stats = json.loads((tmp_path / "logs" / "stats.json").read_text(encoding="utf-8"))
    counters = next(s["stats"] for s in stats if s["name"] == "🔻 - FILTER: fastscan")
    # Both stages dropped some documents, each counted under its own reason.
    assert counters["dropped_patterns"] > 0
    assert counters["dropped_stats"] > 0


def test_datatrove_filter_refuses_a_run_wide_ranking(tmp_path: Path) -> None:
    requires.module("datatrove", "datatrove")
    from fastscan.integrations.datatrove import FastscanFilter

    with pytest.raises(ValueError, match=r"\[semantic\] top_fraction"):
        FastscanFilter(semantic={"gold": "tool-use", "top_fraction": 0.5})


def test_batch_scorer_refuses_a_run_wide_ranking() -> None:
    with pytest.raises(ValueError, match=r"\[semantic\] top_fraction"):
        fastscan.BatchScorer(semantic={"gold": "tool-use", "top_fraction": 0.5})


def test_batch_scorer_runs_every_stage_as_the_cli_does(tmp_path: Path) -> None:
    """The same records and config: BatchScorer's columns and decisions equal the scores file
    of ``fastscan-filter`` (it refused the [stats] stage before: 421 kept against 357)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    write_jsonl(tmp_path / "in" / "docs.jsonl", jsonl_bytes(RECORDS))
    config = tmp_path / "c.toml"
    config.write_text(
        '[keep]\nmin_score = 1.0\nrequire = "tool_call"\n[stats]\nmin = { words = 35 }\n', "utf-8"
    )
    cli = _cli_kept_ids(tmp_path / "in", tmp_path / "cli", config=str(config))
    scores = pq.read_table(tmp_path / "cli" / "scores" / "docs.jsonl.parquet")
    table = pa.Table.from_pylist(RECORDS)
    scorer = fastscan.BatchScorer(str(config))
    out = pa.Table.from_batches([scorer(b) for b in table.to_batches(max_chunksize=64)])
    assert [
        r["id"]
        for r, d in zip(RECORDS, out.column("decision").to_pylist(), strict=True)
        if d == "kept"
    ] == cli
    for name in ("decision", "dropped_by", "drop_reason", "score", "words", "reject_reason"):
        assert out.column(name).to_pylist() == scores.column(name).to_pylist(), name
    reasons = set(out.column("drop_reason").to_pylist())
    assert {"pattern score < 1", "missing required group (tool_call)", "words < 35"} <= reasons
    assert 0 < len(cli) < len(RECORDS)


def test_hugging_face_datasets_recipe_keeps_what_the_cli_keeps(tmp_path: Path) -> None:
    datasets = requires.module("datasets", "hf")
    write_jsonl(tmp_path / "in" / "docs.jsonl", jsonl_bytes(RECORDS))
    # Every stage of the config, as the CLI runs it: the keep rule, then [stats].
    settings: dict[str, Any] = {"min_score": 3.0, "stats": {"min": {"words": 30}}}
    cli = _cli_kept_ids(tmp_path / "in", tmp_path / "cli", **settings)
    assert cli != _cli_kept_ids(tmp_path / "in", tmp_path / "alone", min_score=3.0)
    # The recipe of the README: Arrow batches in, Arrow batches out, no Python rows.
    data_file = tmp_path / "docs.jsonl.gz"
    data_file.write_bytes(gzip.compress(jsonl_bytes(RECORDS)))
    ds = datasets.load_dataset(
        "json", data_files=str(data_file), split="train", cache_dir=str(tmp_path / "hf")
    )
    scored = ds.with_format("arrow").map(
        fastscan.BatchScorer(**settings), batched=True, batch_size=50
    )
    kept = scored.filter(lambda t: pc.equal(t["decision"], "kept"), batched=True)
    assert kept.with_format(None)["id"] == cli
    assert "score" in kept.column_names
