"""One pipeline: every entry point decides alike; a top_fraction ranks the whole run;
``fastscan select`` equals a fresh run; the funnel conserves every record."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastscan
from fastscan.cli import main as fastscan_main
from fastscan.filter.cli import main as filter_main
from fastscan.filter.config import ConfigError, FilterConfig
from fastscan.filter.report import summary_text
from fastscan.filter.reselect import select_run
from fastscan.filter.run import UsageError
from fastscan.ngrams import NgramModel
from shards import (
    jsonl_bytes,
    many_records,
    read_decompressed,
    tree_bytes,
    write_jsonl,
    write_parquet,
)

RECORDS = many_records(120)
TEXTS = [r["text"] for r in RECORDS]
SCORES = fastscan.Scanner().scan(TEXTS).column("score").to_pylist()
TOOL = [r for r, s in zip(RECORDS, SCORES, strict=True) if s >= 2]
PROSE = [r for r, s in zip(RECORDS, SCORES, strict=True) if s < 2]


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("model") / "ngrams.parquet"
    tool = [r["text"] for r in TOOL]
    NgramModel.fit(tool, TEXTS, buckets=1024, smoothing="additive", smoothing_value=1.0).save(path)
    return path


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three shards with deliberately different score distributions: mostly tool-use text,
    mostly prose, and a mix that repeats records of the first (exact ties across shards)."""
    root = tmp_path_factory.mktemp("pipeline") / "in"
    write_jsonl(root / "a.jsonl.zst", jsonl_bytes(TOOL[:30] + PROSE[:5]))
    write_jsonl(root / "b.jsonl", jsonl_bytes(PROSE[5:40] + TOOL[30:34]))
    write_parquet(root / "c.parquet", TOOL[:10] + PROSE[40:60] + TOOL[34:], row_group_size=16)
    return root


def dsir(model: Path, **selection: float | str) -> dict[str, object]:
    return {"model": str(model), **selection}


def scores_of(out: Path) -> list[tuple[int, pa.Table]]:
    """(part, scores table) per shard, in ranking order (by relative path)."""
    files = sorted((out / "scores").rglob("*.parquet"))
    return [(i, pq.read_table(f)) for i, f in enumerate(files)]


@pytest.mark.parametrize("of", ["corpus", "stage"])
def test_top_fraction_ranks_the_whole_run_as_a_sort_of_all_scores(
    corpus: Path, model: Path, tmp_path: Path, of: str
) -> None:
    """``top_fraction`` of the corpus (the default: the records read, those dropped earlier
    ranked below) or of the stage (the records it ranks): exactly a sort of all scores."""
    fraction = 0.3
    out = tmp_path / "out"
    report = fastscan.filter_shards(
        corpus,
        out,
        min_score=2.0,
        dsir=dsir(model, top_fraction=fraction, top_fraction_of=of),
        threads=2,
    )
    eligible = []  # (-log importance, part, row) of every record that reached the ranking
    kept = set()
    read = 0
    for part, table in scores_of(out):
        read += table.num_rows
        for row in table.to_pylist():
            if row["log_importance"] is not None:
                eligible.append((-row["log_importance"], part, row["row"]))
            if row["decision"] == "kept":
                kept.add((part, row["row"]))
    assert read == report["totals"]["read"]["docs"]
    reference = read if of == "corpus" else len(eligible)
    quota = min(len(eligible), math.ceil(fraction * reference))
    assert 0 < quota < len(eligible)  # the case ranks
    expected = {(part, row) for _, part, row in sorted(eligible)[:quota]}
    assert kept == expected
    assert report["totals"]["kept"]["docs"] == quota
    # Not what ranking each shard alone would keep: the shards' distributions differ.
    alone = [
        math.ceil(fraction * sum(v is not None for v in t.column("log_importance").to_pylist()))
        for _, t in scores_of(out)
    ]
    assert [t.column("decision").to_pylist().count("kept") for _, t in scores_of(out)] != alone
    # The records dropped by the ranking say so.
    reasons = {
        r
        for _, t in scores_of(out)
        for r, d in zip(
            t.column("drop_reason").to_pylist(), t.column("dropped_by").to_pylist(), strict=True
        )
        if d == "dsir"
    }
    (reason,) = reasons
    what = "records read" if of == "corpus" else "records at [dsir]"
    assert reason.startswith(f"log importance below the top 30% of {reference:,} {what} (")
    # The kept file holds exactly the kept records' lines, in input order.
    lines = read_decompressed(corpus / "a.jsonl.zst").splitlines(True)
    table = pq.read_table(out / "scores" / "a.jsonl.zst.parquet").to_pylist()
    expected_lines = b"".join(lines[r["row"]] for r in table if r["decision"] == "kept")
    assert read_decompressed(out / "kept" / "a.jsonl.zst") == expected_lines


def test_select_equals_a_fresh_run_without_rescanning(
    corpus: Path, model: Path, tmp_path: Path
) -> None:
    loose = tmp_path / "loose"
    fastscan.filter_shards(corpus, loose, min_score=2.0, dsir=dsir(model))
    strict: dict[str, Any] = {"min_score": 3.0, "dsir": dsir(model, top_fraction=0.5)}
    fresh = fastscan.filter_shards(corpus, tmp_path / "fresh", **strict)
    # Rescanning would fail: the inputs are hidden while selecting.
    hidden = corpus.with_name("hidden")
    corpus.rename(hidden)
    try:
        blind = select_run(loose, tmp_path / "blind", min_score=3.0)
    finally:
        hidden.rename(corpus)
    assert blind["totals"]["failed"] == 3
    assert all("not found" in e["error"] for e in blind["shards"])
    chosen = select_run(
        loose, tmp_path / "chosen", min_score=3.0, top_fraction=0.5, by="log_importance"
    )
    assert tree_bytes(tmp_path / "chosen", ("kept",)) == tree_bytes(tmp_path / "fresh", ("kept",))
    assert chosen["totals"]["kept"] == fresh["totals"]["kept"]
    assert chosen["totals"]["dropped"] == fresh["totals"]["dropped"]
    assert chosen["funnel"][-1]["docs_out"] == fresh["funnel"][-1]["docs_out"]
    for (_, a), (_, b) in zip(
        scores_of(tmp_path / "chosen"), scores_of(tmp_path / "fresh"), strict=True
    ):
        for name in ("row", "score", "decision", "dropped_by", "drop_reason"):
            assert a.column(name).to_pylist() == b.column(name).to_pylist(), name
    # The new directory is a run of its own: fastscan-filter with the same settings resumes
    # every shard there.
    again = fastscan.filter_shards(corpus, tmp_path / "chosen", **strict)
    assert again["totals"]["resumed"] == 3
    assert tree_bytes(tmp_path / "chosen", ("kept",)) == tree_bytes(tmp_path / "fresh", ("kept",))


def test_select_refuses_what_it_cannot_decide(corpus: Path, model: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    fastscan.filter_shards(corpus, run, min_score=2.0, dsir=dsir(model))
    # Looser than the run: records would reach [dsir] that it never measured.
    with pytest.raises(UsageError, match=r"reach \[dsir\] but were never measured"):
        select_run(run, tmp_path / "a", min_score=0.0)
    with pytest.raises(UsageError, match=r"thresholds only; .*pack"):
        select_run(
            run, tmp_path / "b", pack=str(Path(fastscan.__file__).parent / "packs/tool-use.toml")
        )
    with pytest.raises(UsageError, match="--by 'words'"):
        select_run(run, tmp_path / "c", top_fraction=0.5, by="words")
    with pytest.raises(UsageError, match="another -o"):
        select_run(run, run)


def test_select_command(
    corpus: Path, model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    fastscan.filter_shards(corpus, run, min_score=2.0, dsir=dsir(model))
    rc = fastscan_main(
        ["select", str(run), "-o", str(tmp_path / "s"), "--min-score", "4", "--json"]
    )
    assert rc == 0
    report = json.loads(capsys.readouterr().out)
    fresh = fastscan.filter_shards(corpus, tmp_path / "f", min_score=4.0, dsir=dsir(model))
    assert report["totals"]["kept"] == fresh["totals"]["kept"]
    assert report["executor"] == {"kind": "select"}


def test_cli_scores_equal_the_pipeline_and_batch_scorer(
    corpus: Path, model: Path, tmp_path: Path
) -> None:
    settings_: dict[str, Any] = {
        "min_score": 2.0,
        "stats": {"min": {"words": 12}},
        "dsir": dsir(model, min_log_importance=-5.0),
    }
    fastscan.filter_shards(corpus / "b.jsonl", tmp_path / "out", **settings_)
    scores = pq.read_table(tmp_path / "out" / "scores" / "b.jsonl.parquet")
    texts = [json.loads(line)["text"] for line in (corpus / "b.jsonl").read_text().splitlines()]
    pipeline = fastscan.Pipeline(FilterConfig(**settings_))
    batch = pipeline.score(texts)
    scorer = fastscan.BatchScorer(**settings_)
    scored = scorer(pa.record_batch({"text": pa.array(texts)}))
    run = pipeline.run(texts)
    for name in batch.schema.names:
        if name in ("row", "offset", "length"):
            continue
        assert batch.column(name).to_pylist() == scores.column(name).to_pylist(), name
        assert scored.column(name).to_pylist() == scores.column(name).to_pylist(), name
    assert run.table.column("decision").to_pylist() == scores.column("decision").to_pylist()
    assert run.table.column("drop_reason").to_pylist() == scores.column("drop_reason").to_pylist()


@settings(max_examples=40, deadline=None)
@given(
    picks=st.lists(st.integers(0, len(RECORDS)), min_size=0, max_size=40),
    min_score=st.sampled_from([0.0, 1.0, 2.0, 3.5]),
    words=st.integers(0, 60),
)
def test_the_funnel_conserves_every_record(picks: list[int], min_score: float, words: int) -> None:
    """read == kept + dropped + rejected, stage by stage: every record a stage receives it
    either passes on or drops with a reason, over any texts and thresholds."""
    texts = [TEXTS[i] if i < len(RECORDS) else None for i in picks]
    stats: dict[str, object] = {"min": {"words": words}}
    cfg = FilterConfig(min_score=min_score, stats=stats)
    result = fastscan.Pipeline(cfg).run(texts)
    decisions = result.table.column("decision").to_pylist()
    assert len(decisions) == len(texts)
    rejected = decisions.count("rejected")
    assert rejected == texts.count(None)
    first, second = result.funnel
    assert first.docs_in == len(texts) - rejected
    assert second.docs_in == first.docs_out
    assert second.docs_out == decisions.count("kept")
    for line in result.funnel:
        assert line.docs_in - line.docs_out == sum(line.drop_reasons.values())
    assert decisions.count("kept") + decisions.count("dropped") + rejected == len(texts)


def test_id_field_is_copied_into_the_scores(tmp_path: Path) -> None:
    """--id-field: strings as they are, numbers as their JSON text, null when absent or of
    another type, from JSONL (read in the scan's one parse) and Parquet alike; fastscan
    select carries it over."""
    root = tmp_path / "in"
    lines = [
        json.dumps({"meta": {"id": "a-1"}, "text": TOOL[0]["text"]}),
        json.dumps({"meta": {"id": 7}, "text": "prose"}),
        json.dumps({"text": "no id at all"}),
        json.dumps({"meta": {"id": [1]}, "text": "a list is no id"}),
        "{not json",
    ]
    write_jsonl(root / "a.jsonl.gz", ("\n".join(lines) + "\n").encode())
    pq.write_table(
        pa.table({"meta": [{"id": 3}, {"id": None}], "text": [TOOL[1]["text"], "y"]}),
        root / "b.parquet",
    )
    report = fastscan.filter_shards(root, tmp_path / "out", id_field="meta.id")
    assert report["totals"]["rejected"]["docs"] == 1
    a = pq.read_table(tmp_path / "out" / "scores" / "a.jsonl.gz.parquet")
    b = pq.read_table(tmp_path / "out" / "scores" / "b.parquet.parquet")
    assert a.column("id").to_pylist() == ["a-1", "7", None, None, None]
    assert b.column("id").to_pylist() == ["3", None]
    assert a.schema.names[:4] == b.schema.names[:4] == ["row", "offset", "length", "id"]
    select_run(tmp_path / "out", tmp_path / "again", min_score=3.0)
    again = pq.read_table(tmp_path / "again" / "scores" / "a.jsonl.gz.parquet")
    assert again.column("id").to_pylist() == a.column("id").to_pylist()


@pytest.mark.parametrize("later", [False, True])
@pytest.mark.parametrize("output_format", ["auto", "lmflow"])
def test_kept_files_are_the_same_whoever_writes_them(
    corpus: Path, model: Path, tmp_path: Path, output_format: str, later: bool
) -> None:
    """Unless a ranking over the run decides, the scan writes the kept records: as it reads
    them when the keep rule is the whole decision, or once the later stages have decided a
    gathered batch; otherwise phase 2 copies them from the input. All go through one writer:
    a fresh run (scan-written) equals select (copied) byte for byte, compressed or not."""
    stages: dict[str, Any] = {"dsir": dsir(model, min_log_importance=12.0)} if later else {}
    fastscan.filter_shards(
        corpus, tmp_path / "loose", min_score=2.0, output_format=output_format, **stages
    )
    fresh = fastscan.filter_shards(
        corpus, tmp_path / "fresh", min_score=3.5, output_format=output_format, **stages
    )
    select_run(tmp_path / "loose", tmp_path / "chosen", min_score=3.5)
    kept = tree_bytes(tmp_path / "fresh", ("kept",))
    assert kept == tree_bytes(tmp_path / "chosen", ("kept",))
    assert len(kept) >= 2
    assert fresh["totals"]["kept"]["docs"] > 0
    if later:
        assert fresh["funnel"][-1]["drop_reasons"], "the later stage drops some records"
    for name in ("a.jsonl.zst", "c.parquet"):
        scored = json.loads((tmp_path / "fresh" / "_scored" / f"{name}.json").read_text())
        assert scored["scored"]["kept"], f"the scan wrote {name}'s kept file"


def test_later_stages_split_their_work_as_the_scan_does(
    model: Path, corpus: Path, tmp_path: Path
) -> None:
    """`--threads 1` means one thread, later stages included; with shards side by side each
    shard's stages run on its thread (they used every core each: 4 busy threads on 2 cores)."""
    stages: dict[str, Any] = {"stats": {"min": {"words": 5}}, "dsir": dsir(model)}
    cfg = FilterConfig(**stages)
    for threads in (1, 2):
        stats, ngrams = fastscan.Pipeline(cfg, threads=threads).stages[1:]
        assert isinstance(stats, fastscan.StatsStage)
        assert isinstance(ngrams, fastscan.DsirStage)
        assert (stats.scanner.threads, ngrams.model.threads) == (threads, threads)
    one = fastscan.filter_shards(corpus, tmp_path / "one", threads=1, **stages)
    two = fastscan.filter_shards(corpus, tmp_path / "two", threads=2, **stages)
    assert tree_bytes(tmp_path / "one", ("kept",)) == tree_bytes(tmp_path / "two", ("kept",))
    assert one["totals"]["kept"] == two["totals"]["kept"]


# ---- the top N% of the corpus ----


def test_top_fraction_of_the_corpus_by_the_pattern_score(corpus: Path, tmp_path: Path) -> None:
    """``--top-fraction F``: F of the records read, ranked by the pattern score (those the keep
    rule drops rank below), ties by shard then row: exactly a sort."""
    fraction = 0.2
    out = tmp_path / "out"
    args = [str(corpus), "-o", str(out), "-q", "--top-fraction", str(fraction)]
    assert filter_main(args) == 0
    report = json.loads((out / "report.json").read_text())
    passing, read = [], 0
    for part, table in scores_of(out):
        read += table.num_rows
        for row in table.to_pylist():
            if row["dropped_by"] != "patterns" or "below the top" in (row["drop_reason"] or ""):
                passing.append((-row["score"], part, row["row"]))
    quota = min(len(passing), math.ceil(fraction * read))
    expected = {(p, r) for _, p, r in sorted(passing)[:quota]}
    kept = {
        (part, row["row"])
        for part, table in scores_of(out)
        for row in table.to_pylist()
        if row["decision"] == "kept"
    }
    assert kept == expected
    assert report["totals"]["kept"]["docs"] == quota
    reasons = {
        r
        for _, t in scores_of(out)
        for r in t.column("drop_reason").to_pylist()
        if r and "top" in r
    }
    assert reasons
    assert all(f"top 20% of {read:,} records read (cutoff " in r for r in reasons)
    assert "the top 20% of the corpus by score" in summary_text(report)
    assert "top-fraction cutoff" in (out / "report.html").read_text()


def test_select_by_score_equals_a_fresh_run(corpus: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert filter_main([str(corpus), "-o", str(run), "-q"]) == 0
    # Only the pattern score ranks here, so --by may be left out.
    selected = select_run(run, tmp_path / "sel", top_fraction=0.15)
    assert selected["totals"]["failed"] == 0
    fresh = tmp_path / "fresh"
    assert filter_main([str(corpus), "-o", str(fresh), "-q", "--top-fraction", "0.15"]) == 0
    assert tree_bytes(tmp_path / "sel", ("kept",)) == tree_bytes(fresh, ("kept",))
    by_score = select_run(run, tmp_path / "sel2", top_fraction=0.15, by="score")
    assert by_score["totals"]["kept"] == selected["totals"]["kept"]


def test_by_is_needed_when_several_columns_rank(model: Path) -> None:
    cfg = FilterConfig(dsir={"model": str(model)})
    assert cfg.ranking_columns() == {"score": "patterns", "log_importance": "dsir"}
    with pytest.raises(ConfigError, match="needs --by: this run can rank by score, log_importance"):
        cfg.ranked_by(0.1, None)
    with pytest.raises(ConfigError, match="columns that rank in this run: score, log_importance"):
        cfg.ranked_by(0.1, "similarity")
    ranked = cfg.ranked_by(0.1, "log_importance")
    assert ranked.dsir is not None
    assert ranked.dsir["top_fraction"] == 0.1
    assert ranked.top_fraction is None
    assert cfg.ranked_by(0.1, "score").ranked_stages() == ["patterns"]


def test_ties_are_broken_by_shard_then_row(tmp_path: Path) -> None:
    same = TOOL[0]
    for name in ("a.jsonl", "b.jsonl", "c.jsonl"):
        write_jsonl(tmp_path / "in" / name, jsonl_bytes([same] * 4))
    report = fastscan.filter_shards(tmp_path / "in", tmp_path / "out", top_fraction=0.5)
    kept = {e["relative"]: e["kept"]["docs"] for e in report["shards"]}
    assert kept == {"a.jsonl": 4, "b.jsonl": 2, "c.jsonl": 0}


def test_jsonl_input_with_parquet_output_in_a_ranked_run(corpus: Path, tmp_path: Path) -> None:
    """Phase 2 writes a JSONL shard's kept records as Parquet: the rows are the kept lines'
    records, in input order, as many as the scores keep."""
    out = tmp_path / "out"
    report = fastscan.filter_shards(
        corpus / "b.jsonl", out, top_fraction=0.5, output_format="parquet", min_score=0.0
    )
    kept = pq.read_table(out / "kept" / "b.jsonl.parquet")
    (scores,) = [t for _, t in scores_of(out)]
    rows = [r["row"] for r in scores.to_pylist() if r["decision"] == "kept"]
    assert kept.num_rows == len(rows) == report["totals"]["kept"]["docs"] > 0
    lines = (corpus / "b.jsonl").read_bytes().splitlines()
    assert kept.to_pylist() == [json.loads(lines[r]) for r in rows]


def test_a_parquet_column_literally_named_with_a_dot(tmp_path: Path) -> None:
    """``--text-field a.b`` reads a column named ``a.b`` when there is one, else field ``b``
    of struct column ``a``."""
    texts = [r["text"] for r in TOOL[:6]]
    literal = tmp_path / "in" / "literal.parquet"
    literal.parent.mkdir()
    pq.write_table(pa.table({"a.b": texts}), literal)
    nested = tmp_path / "in" / "nested.parquet"
    pq.write_table(pa.table({"a": pa.array([{"b": t} for t in texts])}), nested)
    report = fastscan.filter_shards(tmp_path / "in", tmp_path / "out", text_field="a.b")
    kept = {e["relative"]: e["kept"]["docs"] for e in report["shards"]}
    assert kept["literal.parquet"] == kept["nested.parquet"] > 0
    assert report["totals"]["rejected"]["docs"] == 0
