"""`NgramModel`: DSIR importance weights from hashed word n-gram statistics.

Fit on a target (gold) corpus and a raw sample; a document's log importance weight
``sum_features log(p_target(bucket) / p_raw(bucket))`` (Xie et al. 2023) then ranks raw
documents by how much they look like the target. Features, hashing and smoothing are described
in ``fastscan_core::ngrams``; the defaults (10,000 buckets, unigrams + bigrams, ``log(p + 1e-8)``)
are those of the reference implementation (PyPI ``data-selection``), with a fast polynomial
hash in place of SHA-256.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from fastscan import __version__, _fastscan

DEFAULT_BUCKETS = 10_000
DEFAULT_N = 2
SMOOTHINGS = ("epsilon", "additive")
# The feature hash (``fastscan_core::ngrams``); a model records it and loading checks it.
HASH = "poly64-mulshift-v1"
# Texts per call into the core when counting a corpus.
BATCH = 8192
_META_KEY = b"fastscan.ngrams"


def _batches(texts: Iterable[str] | pa.Array | pa.ChunkedArray) -> Iterable[pa.Array]:
    if isinstance(texts, pa.ChunkedArray):
        yield from texts.chunks
        return
    if isinstance(texts, pa.Array):
        yield texts
        return
    chunk: list[str] = []
    for text in texts:
        chunk.append(text)
        if len(chunk) == BATCH:
            yield pa.array(chunk, pa.large_string())
            chunk = []
    if chunk:
        yield pa.array(chunk, pa.large_string())


def count_buckets(
    texts: Iterable[str] | pa.Array | pa.ChunkedArray,
    buckets: int = DEFAULT_BUCKETS,
    n: int = DEFAULT_N,
    threads: int | None = None,
) -> tuple[list[int], int]:
    """Summed bucket counts of a corpus, and its number of documents."""
    counter = _fastscan.NgramCounter(buckets, n, threads=threads)
    total = [0] * buckets
    docs = 0
    for array in _batches(texts):
        docs += len(array)
        for i, c in enumerate(counter.count_arrow(array).to_pylist()):
            if c:
                total[i] += c
    return total, docs


class NgramModel:
    """A fitted importance model. Build with `fit` or `load`; score with `importance`.

    Args:
        target, raw: bucket counts of the target and raw corpora.
        buckets, n: the feature settings the counts were made with.
        smoothing: ``"epsilon"`` (``log(p + value)``) or ``"additive"`` (add ``value`` to every
            count).
        smoothing_value: its parameter (default 1e-8, the reference's epsilon).
        threads: threads for scoring (default as `Scanner`).
        info: extra metadata kept with the model (document counts, sources).
    """

    def __init__(
        self,
        target: list[int],
        raw: list[int],
        *,
        buckets: int = DEFAULT_BUCKETS,
        n: int = DEFAULT_N,
        smoothing: str = "epsilon",
        smoothing_value: float = 1e-8,
        threads: int | None = None,
        info: dict[str, Any] | None = None,
    ) -> None:
        if smoothing not in SMOOTHINGS:
            raise ValueError(f"smoothing must be one of {', '.join(SMOOTHINGS)}")
        self.target = list(target)
        self.raw = list(raw)
        self.buckets = buckets
        self.n = n
        self.smoothing = smoothing
        self.smoothing_value = smoothing_value
        self.info = dict(info or {})
        self._inner = _fastscan.NgramModel(
            self.target,
            self.raw,
            buckets=buckets,
            n=n,
            smoothing_kind=smoothing,
            smoothing_value=smoothing_value,
            threads=threads,
        )

    @classmethod
    def fit(
        cls,
        target: Iterable[str] | pa.Array,
        raw: Iterable[str] | pa.Array,
        *,
        buckets: int = DEFAULT_BUCKETS,
        n: int = DEFAULT_N,
        smoothing: str = "epsilon",
        smoothing_value: float = 1e-8,
        threads: int | None = None,
    ) -> NgramModel:
        """Counts both corpora and fits the model."""
        t_counts, t_docs = count_buckets(target, buckets, n, threads)
        r_counts, r_docs = count_buckets(raw, buckets, n, threads)
        if not any(t_counts) or not any(r_counts):
            raise ValueError("the target and the raw corpus must each hold at least one token")
        info = {"target_docs": t_docs, "raw_docs": r_docs}
        return cls(
            t_counts,
            r_counts,
            buckets=buckets,
            n=n,
            smoothing=smoothing,
            smoothing_value=smoothing_value,
            threads=threads,
            info=info,
        )

    @property
    def threads(self) -> int:
        """The threads scoring uses."""
        return self._inner.threads

    def with_threads(self, threads: int) -> NgramModel:
        """The same model scoring on `threads` threads."""
        return NgramModel(
            self.target,
            self.raw,
            buckets=self.buckets,
            n=self.n,
            smoothing=self.smoothing,
            smoothing_value=self.smoothing_value,
            threads=threads,
            info=self.info,
        )

    @property
    def log_ratio(self) -> list[float]:
        """Per bucket: ``log p_target - log p_raw``."""
        return list(self._inner.log_ratio)

    def importance(self, texts: Any) -> pa.RecordBatch:
        """``log_importance`` (float64) and ``ngram_tokens`` (uint64) per document.

        Takes a list of ``str`` or an Arrow string / binary array (nulls count as empty).
        """
        if isinstance(texts, pa.ChunkedArray):
            texts = texts.combine_chunks()
        if not hasattr(texts, "__arrow_c_array__"):
            texts = pa.array(list(texts), pa.large_string())
        weights, tokens = self._inner.importance_arrow(texts)
        return pa.RecordBatch.from_arrays([weights, tokens], ["log_importance", "ngram_tokens"])

    def save(self, path: str | os.PathLike[str]) -> None:
        """Writes the model as Parquet: bucket counts, settings in the schema metadata."""
        meta = {
            "format": 1,
            "fastscan_version": __version__,
            "hash": HASH,
            "tokenizer": "lowercase, \\w+|[^\\w\\s]+",
            "buckets": self.buckets,
            "n": self.n,
            "smoothing": self.smoothing,
            "smoothing_value": self.smoothing_value,
            "info": self.info,
        }
        table = pa.table(
            {"target": pa.array(self.target, pa.uint64()), "raw": pa.array(self.raw, pa.uint64())}
        ).replace_schema_metadata({_META_KEY: json.dumps(meta).encode()})
        pq.write_table(table, Path(path), compression="zstd")

    @classmethod
    def load(cls, path: str | os.PathLike[str], threads: int | None = None) -> NgramModel:
        """Reads a model written by `save` (or ``fastscan fit-ngrams``)."""
        try:
            table = pq.ParquetFile(Path(path)).read()
        except (OSError, pa.ArrowInvalid) as e:
            raise ValueError(f"cannot read n-gram model {path}: {e}") from e
        raw_meta = (table.schema.metadata or {}).get(_META_KEY)
        if raw_meta is None:
            raise ValueError(f"{path} is not a fastscan n-gram model (no {_META_KEY.decode()})")
        meta = json.loads(raw_meta)
        if meta.get("format") != 1:
            raise ValueError(f"{path}: unsupported n-gram model format {meta.get('format')}")
        if meta.get("hash") != HASH:
            raise ValueError(
                f"{path}: fitted with feature hash {meta.get('hash')!r}, this fastscan uses "
                f"{HASH!r}: refit with fastscan fit-ngrams"
            )
        return cls(
            table.column("target").to_pylist(),
            table.column("raw").to_pylist(),
            buckets=meta["buckets"],
            n=meta["n"],
            smoothing=meta["smoothing"],
            smoothing_value=meta["smoothing_value"],
            threads=threads,
            info=meta.get("info"),
        )

    def __repr__(self) -> str:
        return (
            f"<NgramModel buckets={self.buckets} n={self.n} smoothing={self.smoothing}"
            f"({self.smoothing_value:g}) {self.info}>"
        )
