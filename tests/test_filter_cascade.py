"""fastscan-filter with later stages from a cascade.toml: same decisions as `Cascade.run`,
every format, final scores columns, the funnel, accounting and resume."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

import fastscan
from fastscan.cascade import Cascade, PatternStage
from fastscan.filter import FilterConfig
from fastscan.filter.cli import main as filter_main
from fastscan.filter.config import ConfigError
from fastscan.ngrams import NgramModel
from shards import (
    jsonl_bytes,
    many_records,
    read_decompressed,
    tree_bytes,
    write_jsonl,
    write_parquet,
)

RECORDS = many_records(32)
TEXTS = [r["text"] for r in RECORDS]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cascade") / "in"
    data = jsonl_bytes(RECORDS)
    write_jsonl(root / "a.jsonl", data)
    write_jsonl(root / "b.jsonl.gz", data)
    write_jsonl(root / "c.jsonl.zst", data)
    write_parquet(root / "d.parquet", RECORDS, row_group_size=16)
    return root


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """patterns -> stats -> dsir -> semantic, the model fitted here, files beside the toml."""
    root = tmp_path_factory.mktemp("config")
    scores = fastscan.Scanner().scan(TEXTS).column("score").to_pylist()
    tool = [t for t, s in zip(TEXTS, scores, strict=True) if s >= 2]
    model = NgramModel.fit(tool, TEXTS, buckets=1024, smoothing="additive", smoothing_value=1.0)
    model.save(root / "ngrams.parquet")
    (root / "cascade.toml").write_text(
        """
[keep]
min_score = 2.0

[stats]
min = { words = 12 }
max = { dup_line_char_frac = 0.5 }

[dsir]
model = "ngrams.parquet"
min_log_importance = -50.0

[semantic]
gold = "tool-use"
min_similarity = 0.3
""",
        encoding="utf-8",
    )
    return root / "cascade.toml"


def direct(config: Path) -> Any:
    cfg = FilterConfig.from_toml(config)
    stages = [PatternStage(min_score=cfg.min_score), *cfg.later_stages()]
    return Cascade(stages).run(TEXTS)


def test_filter_with_a_cascade_keeps_what_the_cascade_keeps(
    corpus: Path, config: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    report = fastscan.filter_shards(corpus, out, config=config, threads=2)
    expected = direct(config)
    keep = expected.kept.to_pylist()
    assert 0 < sum(keep) < len(keep)
    decisions = expected.table.column("decision").to_pylist()
    assert {"patterns", "semantic"} <= set(expected.table.column("dropped_by").to_pylist())
    lines = jsonl_bytes(RECORDS).splitlines(keepends=True)
    kept_lines = b"".join(line for line, k in zip(lines, keep, strict=True) if k)
    for name in ("a.jsonl", "b.jsonl.gz", "c.jsonl.zst"):
        assert read_decompressed(out / "kept" / name) == kept_lines, name
    kept_rows = pq.read_table(out / "kept" / "d.parquet").to_pylist()
    assert kept_rows == [r for r, k in zip(RECORDS, keep, strict=True) if k]
    for name in ("a.jsonl", "d.parquet"):
        scores = pq.read_table(out / "scores" / f"{name}.parquet")
        assert scores.column("decision").to_pylist() == decisions
        assert (
            scores.column("dropped_by").to_pylist()
            == expected.table.column("dropped_by").to_pylist()
        )
        sims = scores.column("similarity").to_pylist()
        for a, b in zip(sims, expected.table.column("similarity").to_pylist(), strict=True):
            assert (a is None) == (b is None)
            if a is not None:
                assert a == pytest.approx(b, abs=1e-5)
        assert scores.column("words").to_pylist() == expected.table.column("words").to_pylist()
    totals = report["totals"]
    assert totals["kept"]["docs"] == 4 * sum(keep)
    assert totals["read"]["docs"] == totals["kept"]["docs"] + totals["dropped"]["docs"]
    funnel = report["funnel"]
    assert [f["stage"] for f in funnel] == ["patterns", "stats", "dsir", "semantic"]
    assert funnel[0]["docs_in"] == 4 * len(TEXTS)
    for before, after in itertools.pairwise(funnel):
        assert before["docs_out"] == after["docs_in"]
        assert before["bytes_out"] == after["bytes_in"]
    assert funnel[-1]["docs_out"] == totals["kept"]["docs"]
    assert funnel[-1]["bytes_out"] == totals["kept"]["bytes"]
    for e in report["shards"]:
        assert e["funnel"][-1]["docs_out"] == e["kept"]["docs"]
    # Each stage's time reaches the funnel: what phase 1 measured per shard (its markers),
    # summed, is what the report says (compared, not judged: timings are machine noise).
    markers = [json.loads(p.read_text()) for p in sorted((out / "_scored").glob("*.json"))]
    assert len(markers) == len(report["shards"])
    for line in funnel:
        measured = sum(m["stage_seconds"][line["stage"]][1] for m in markers)
        assert line["seconds"] == pytest.approx(measured, abs=1e-5), line["stage"]
        assert report["timing"]["stage_seconds"][line["stage"]] == line["seconds"]


def test_cascade_runs_resume_byte_identically(corpus: Path, config: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    fastscan.filter_shards(corpus, out, config=config, threads=1)
    before = tree_bytes(out)
    (out / "_done" / "b.jsonl.gz.json").unlink()
    report = fastscan.filter_shards(corpus, out, config=config, threads=2)
    # Every shard's scores were kept (b's is decided again, not scanned): 4 resumed, the count
    # "resuming: 4 of 4 shards already scored" gives.
    assert report["totals"]["resumed"] == 4
    assert [e["relative"] for e in report["shards"] if e.get("scanned")] == []
    assert tree_bytes(out) == before
    assert [f["stage"] for f in report["funnel"]] == ["patterns", "stats", "dsir", "semantic"]


def test_cascade_outputs_lmflow_and_top_fraction(
    corpus: Path, config: Path, tmp_path: Path
) -> None:
    text = config.read_text(encoding="utf-8").replace("min_similarity = 0.3", "top_fraction = 0.5")
    top = tmp_path / "top.toml"
    top.write_text(text, encoding="utf-8")
    (tmp_path / "ngrams.parquet").write_bytes((config.parent / "ngrams.parquet").read_bytes())
    out = tmp_path / "out"
    report = fastscan.filter_shards(corpus / "a.jsonl", out, config=top, output_format="lmflow")
    semantic = report["funnel"][-1]
    read = report["totals"]["read"]["docs"]
    # The top half of the corpus (the records read), among those that reach the stage.
    assert semantic["docs_out"] == min(semantic["docs_in"], -(-read // 2))
    files = sorted((out / "kept").glob("a.jsonl.*.json"))
    texts = [i["text"] for f in files for i in json.loads(f.read_text())["instances"]]
    assert len(texts) == report["totals"]["kept"]["docs"]
    assert set(texts) <= set(TEXTS)


def test_the_summary_prints_the_funnel(
    corpus: Path, config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = filter_main([str(corpus / "a.jsonl"), "-o", str(tmp_path / "o"), "--config", str(config)])
    assert rc == 0
    printed = capsys.readouterr().out
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    assert "funnel: stage, docs in -> out" in printed
    for line in report["funnel"]:
        row = rf"{line['stage']}\s+{line['docs_in']:,} -> {line['docs_out']:,}\s"
        assert re.search(row, printed), line["stage"]
        for reason in list(line["drop_reasons"])[:3]:
            assert reason in printed


def test_stage_config_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[semantic]\ngold = "tool-use"\nthreshold = 3\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"unknown key semantic\.threshold"):
        FilterConfig.from_toml(bad)
    bad.write_text("[dsir]\nmin_log_importance = 0\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"dsir\.model is required"):
        FilterConfig.from_toml(bad)
    bad.write_text("[stats]\nmin = { wordz = 3 }\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown statistic 'wordz'; did you mean 'words'"):
        FilterConfig.from_toml(bad)


def test_survivor_lines_split_only_at_newlines(tmp_path: Path) -> None:
    text = TEXTS[0]
    lines = [
        b'{"text": ' + json.dumps(text).encode() + b',\r "id": 1}\n',  # \r is JSON whitespace
        b'{"text": ' + json.dumps(text + " again").encode() + b"}",  # no final newline
    ]
    shard = tmp_path / "in" / "r.jsonl"
    shard.parent.mkdir()
    shard.write_bytes(b"".join(lines))
    config = tmp_path / "c.toml"
    config.write_text("[stats]\nmin = { words = 1 }\n", encoding="utf-8")
    report = fastscan.filter_shards(shard, tmp_path / "out", config=config)
    assert report["totals"]["failed"] == 0
    assert report["totals"]["kept"]["docs"] == 2
    assert (tmp_path / "out" / "kept" / "r.jsonl").read_bytes() == b"".join(lines)
