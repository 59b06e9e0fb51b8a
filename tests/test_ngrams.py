"""Hashed n-gram DSIR: the model, its file, and agreement with the reference implementation
(PyPI ``data-selection``) when both hash with the same function."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fastscan
from fastscan import _fastscan
from fastscan.ngrams import NgramModel
from shards import sample_records

API_WORDS = [
    "GET",
    "POST",
    "/v1/users",
    '{"name":',
    "string}",
    "required",
    "parameters",
    "returns",
    "JSON",
    "curl",
    "-X",
    "Authorization:",
    "Bearer",
    "token",
    "client.create(model=...)",
    "response.status_code",
    "200",
    "404",
    "tool_call",
    "arguments",
    "function",
    "schema",
    "type",
    "object",
    "properties",
    "integer",
]
PROSE_WORDS = [
    "the",
    "river",
    "ran",
    "past",
    "old",
    "stone",
    "walls",
    "while",
    "children",
    "played",
    "near",
    "quiet",
    "gardens",
    "and",
    "farmers",
    "talked",
    "about",
    "rain",
    "harvest",
    "market",
    "weather",
    "history",
    "of",
    "the",
    "village",
    "church",
]


def synthetic(n: int, api_share: float, seed: int) -> list[str]:
    rng = random.Random(seed)
    docs = []
    for _ in range(n):
        share = min(1.0, max(0.0, rng.gauss(api_share, 0.2)))
        words = [
            rng.choice(API_WORDS) if rng.random() < share else rng.choice(PROSE_WORDS)
            for _ in range(rng.randint(20, 120))
        ]
        docs.append(" ".join(words).capitalize() + ".")
    return docs


def write_jsonl(path: Path, texts: list[str]) -> Path:
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts), encoding="utf-8")
    return path


def test_same_top_k_as_the_reference_with_the_same_hash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from data_selection import HashedNgramDSIR
    from data_selection import hashed_ngram_dsir as reference

    buckets = 4096
    target = synthetic(60, 0.8, seed=1)
    raw = synthetic(300, 0.3, seed=2)
    # The reference hashes with SHA-256; give it fastscan's bucket function instead.
    monkeypatch.setattr(
        reference,
        "hash_buckets",
        lambda text, num_buckets=10000: _fastscan.ngram_bucket(text, num_buckets),
    )
    dsir = HashedNgramDSIR(
        raw_datasets=[str(write_jsonl(tmp_path / "raw.jsonl", raw))],
        target_datasets=[str(write_jsonl(tmp_path / "target.jsonl", target))],
        cache_dir=str(tmp_path / "cache"),
        num_proc=1,
        ngrams=2,
        num_buckets=buckets,
    )
    dsir.fit_importance_estimator(num_tokens_to_fit="all")
    theirs = [float(dsir.importance_estimator(dsir.featurizer(t))) for t in raw]

    model = NgramModel.fit(target, raw, buckets=buckets, threads=2)
    for ours_lr, their_lr in zip(model.log_ratio, dsir.log_diff.tolist(), strict=True):
        assert math.isclose(ours_lr, their_lr, rel_tol=1e-9, abs_tol=1e-9)
    ours = model.importance(raw).column("log_importance").to_pylist()
    for a, b in zip(ours, theirs, strict=True):
        assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6)
    for k in (10, 30, 100):
        top_ours = sorted(range(len(raw)), key=lambda i: -ours[i])[:k]
        top_theirs = sorted(range(len(raw)), key=lambda i: -theirs[i])[:k]
        assert set(top_ours) == set(top_theirs), k


def test_features_match_the_reference_featurizer(monkeypatch: pytest.MonkeyPatch) -> None:
    from data_selection import hashed_ngram_dsir as reference

    monkeypatch.setattr(
        reference,
        "hash_buckets",
        lambda text, num_buckets=10000: _fastscan.ngram_bucket(text, num_buckets),
    )
    texts = [r["text"] for r in sample_records()]
    counter = _fastscan.NgramCounter(1000, 2, threads=1)
    for text in texts:
        expected = reference.get_ngram_counts(text, n=2, num_buckets=1000).tolist()
        assert counter.count_arrow(pa.array([text])).to_pylist() == expected


def test_target_like_documents_rank_first() -> None:
    target = synthetic(80, 0.9, seed=3)
    raw = synthetic(400, 0.2, seed=4)
    model = NgramModel.fit(target, raw, buckets=2048)
    api_doc = " ".join(API_WORDS)
    prose = " ".join(PROSE_WORDS)
    weights = model.importance([api_doc, prose, ""]).column("log_importance").to_pylist()
    assert weights[0] > 0 > weights[1]
    assert weights[2] == 0.0


def test_model_file_round_trip(tmp_path: Path) -> None:
    target, raw = synthetic(20, 0.9, seed=5), synthetic(50, 0.2, seed=6)
    model = NgramModel.fit(target, raw, buckets=512, smoothing="additive", smoothing_value=1.0)
    path = tmp_path / "model.parquet"
    model.save(path)
    loaded = NgramModel.load(path)
    assert loaded.buckets == 512
    assert loaded.smoothing == "additive"
    assert loaded.info == {"target_docs": 20, "raw_docs": 50}
    batch = pa.array(raw, pa.string())
    assert loaded.importance(batch).equals(model.importance(batch))
    table = pq.read_table(path)
    meta = json.loads(table.schema.metadata[b"fastscan.ngrams"])
    meta["hash"] = "sha256"
    pq.write_table(
        table.replace_schema_metadata({b"fastscan.ngrams": json.dumps(meta).encode()}),
        tmp_path / "old.parquet",
    )
    with pytest.raises(ValueError, match="refit"):
        NgramModel.load(tmp_path / "old.parquet")
    (tmp_path / "other.parquet").write_bytes(b"not parquet")
    with pytest.raises(ValueError, match="cannot read n-gram model"):
        NgramModel.load(tmp_path / "other.parquet")


def test_additive_smoothing_has_no_huge_penalties() -> None:
    target, raw = ["alpha beta"], ["gamma delta", "alpha"]
    eps = NgramModel.fit(target, raw, buckets=64)
    add = NgramModel.fit(target, raw, buckets=64, smoothing="additive", smoothing_value=1.0)
    assert min(eps.log_ratio) < -15  # log(1e-8) for a bucket the target never saw
    assert min(add.log_ratio) > -3


def test_bad_settings_are_errors() -> None:
    with pytest.raises(ValueError, match="smoothing"):
        NgramModel([1], [1], buckets=1, smoothing="none")
    with pytest.raises(ValueError, match="bucket counts must have 4 entries"):
        NgramModel([1, 2], [1, 2], buckets=4)
    with pytest.raises(ValueError, match="at least one token"):
        NgramModel.fit([""], ["text"], buckets=8)
    with pytest.raises(ValueError, match="at least 1"):
        fastscan.ngrams.count_buckets(["x"], buckets=0)


@given(
    st.lists(
        st.one_of(
            st.text(alphabet=st.characters(exclude_categories=("Cs", "Cn")), max_size=40),
            st.sampled_from(["GET /v1/x?a=1", "İstanbul", "ΣΑΣ ΟΔΟΣ", "x²—y", "a_b-c", "\x1c\x1f"]),
        ),
        max_size=6,
    ).map(" ".join)
)
def test_features_match_the_reference_on_any_text(text: str) -> None:
    from data_selection import hashed_ngram_dsir as reference

    original = reference.hash_buckets
    reference.hash_buckets = lambda t, num_buckets=10000: _fastscan.ngram_bucket(t, num_buckets)
    try:
        expected = reference.get_ngram_counts(text, n=2, num_buckets=997).tolist()
    finally:
        reference.hash_buckets = original
    counter = _fastscan.NgramCounter(997, 2, threads=1)
    assert counter.count_arrow(pa.array([text])).to_pylist() == expected
