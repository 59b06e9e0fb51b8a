"""The `fastscan` command: scan, fit-ngrams, eval (metrics checked by hand), discover."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from fastscan.cascade import load_gold
from fastscan.cli import main
from fastscan.corpus import read_corpus
from fastscan.discover import discover
from fastscan.evaluate import average_precision, recall_at_precision
from fastscan.ngrams import NgramModel
from fastscan.variants import VARIANTS
from shards import jsonl_bytes, sample_records, write_jsonl

RECORDS = sample_records()


@pytest.fixture
def labeled(tmp_path: Path) -> dict[str, Path]:
    from fastscan import Scanner

    scores = Scanner().scan([r["text"] for r in RECORDS]).column("score").to_pylist()
    pos = [dict(r, kind="tool") for r, s in zip(RECORDS, scores, strict=True) if s >= 2]
    neg = [dict(r, kind="prose") for r, s in zip(RECORDS, scores, strict=True) if s < 2]
    return {
        "pos": write_jsonl(tmp_path / "pos.jsonl.gz", jsonl_bytes(pos)),
        "neg": write_jsonl(tmp_path / "neg.jsonl.zst", jsonl_bytes(neg)),
    }


def test_scan_reads_every_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_jsonl(tmp_path / "s.jsonl.zst", jsonl_bytes(RECORDS) + b"not json\n")
    assert main(["scan", str(path), "--json"]) == 0
    out = capsys.readouterr()
    rows = [json.loads(line) for line in out.out.splitlines()]
    assert len(rows) == len(RECORDS)
    assert "invalid JSON" in out.err


def test_fit_ngrams_writes_a_model(
    labeled: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model_path = tmp_path / "m.parquet"
    rc = main(
        ["fit-ngrams", "--target", str(labeled["pos"]), "--raw", str(labeled["neg"]),
         "-o", str(model_path), "--buckets", "512", "--smoothing", "additive",
         "--smoothing-value", "1"]
    )  # fmt: skip
    assert rc == 0
    model = NgramModel.load(model_path)
    assert model.buckets == 512
    assert model.smoothing == "additive"
    assert model.info["raw"] == [str(labeled["neg"])]
    # Every document of the target file was read (a regression: the list of --target paths
    # was once taken as a list of texts, fitting the model on the file name).
    n_pos = sum(1 for _ in read_corpus([labeled["pos"]]).texts)
    assert n_pos > 1
    assert model.info["target_docs"] == n_pos
    assert "512 buckets" in capsys.readouterr().out
    assert main(["fit-ngrams", "--target", "tool-use", "--raw", str(labeled["neg"]),
                 "-o", str(tmp_path / "g.parquet")]) == 0  # fmt: skip
    assert NgramModel.load(tmp_path / "g.parquet").info["target_docs"] == len(load_gold("tool-use"))
    # Several targets: all of them, in order.
    assert main(["fit-ngrams", "--target", str(labeled["pos"]), "tool-use", "--raw",
                 str(labeled["neg"]), "-o", str(tmp_path / "h.parquet")]) == 0  # fmt: skip
    both = NgramModel.load(tmp_path / "h.parquet").info["target_docs"]
    assert both == n_pos + len(load_gold("tool-use"))


def test_eval_reports_recall_fpr_and_kinds(
    labeled: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "eval.json"
    rc = main(
        ["eval", "--positives", str(labeled["pos"]), "--negatives", str(labeled["neg"]),
         "--json", str(out)]
    )  # fmt: skip
    assert rc == 0
    report = json.loads(out.read_text())
    (stage,) = report["stages"]
    # Positives are the records scoring >= 2 and the keep rule is score >= 2.
    assert stage["recall"] == 1.0
    assert stage["fpr"] == 0.0
    assert stage["pr_auc"] == 1.0
    assert stage["by_kind"]["positive"]["tool"]["rate"] == 1.0
    assert report["documents"] == {"positive": 10, "negative": 6, "hard_negative": 0}
    printed = capsys.readouterr().out
    assert "| patterns | 100.0% |" in printed


def test_eval_variants_table(
    labeled: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "eval.json"
    rc = main(
        ["eval", "--positives", str(labeled["pos"]), "--negatives", str(labeled["neg"]),
         "--json", str(out), "--variants"]
    )  # fmt: skip
    assert rc == 0
    rows = {r["variant"]: r for r in json.loads(out.read_text())["variants"]}
    assert set(rows) == {"original", *VARIANTS}
    assert rows["original"]["docs"] > 0
    assert all(r["docs"] == rows["original"]["docs"] for r in rows.values())
    assert all(r["ratio"] is not None and r["ratio"] >= 0.95 for r in rows.values())
    assert "| escaped2 |" in capsys.readouterr().out


def test_average_precision_by_hand() -> None:
    # Ranking: P N P N (scores 4 3 2 1): precision at the positives 1/1 and 2/3.
    ap, points = average_precision([4, 3, 2, 1], [True, False, True, False])
    assert ap == pytest.approx(0.5 * 1 + 0.5 * (2 / 3))
    assert recall_at_precision(points, 0.9) == 0.5
    assert recall_at_precision(points, 0.6) == 1.0
    # Tied keys form one step: P and N tied at the top give precision 1/2 there.
    ap, _ = average_precision([1, 1, 0], [True, False, True])
    assert ap == pytest.approx(0.5 * 0.5 + 0.5 * (2 / 3))
    assert average_precision([1], [False])[0] == 0.0


def test_discover_finds_gold_terms(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    gold = ["call get_weather with city", "get_weather returns json", "use get_weather api"] * 2
    corpus = ["the weather is nice", "a city by the sea", "we call home"] * 5
    found = discover(gold, corpus, max_n=2, min_gold_docs=2, top=5)
    assert found[0].ngram == "get_weather"
    assert found[0].gold_docs == 6
    assert found[0].corpus_docs == 0
    expected = math.log(6.5 / 7) - math.log(0.5 / 16)
    assert found[0].log_ratio == pytest.approx(expected)
    gold_file = write_jsonl(
        tmp_path / "g.jsonl", "".join(json.dumps({"text": t}) + "\n" for t in gold).encode()
    )
    corpus_file = write_jsonl(
        tmp_path / "c.jsonl", "".join(json.dumps({"text": t}) + "\n" for t in corpus).encode()
    )
    assert main(["discover", "--gold", str(gold_file), "--corpus", str(corpus_file),
                 "--min-gold-docs", "2", "--top", "3"]) == 0  # fmt: skip
    assert "get_weather" in capsys.readouterr().out


def test_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "--positives", str(tmp_path / "missing.jsonl"),
                 "--negatives", str(tmp_path / "x.jsonl")]) == 2  # fmt: skip
    assert "not found" in capsys.readouterr().err
