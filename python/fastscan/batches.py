"""`BatchScorer`: fastscan's score columns appended to Arrow batches, for dataframe engines.

Built once per worker (a Ray Data actor, a Spark Python worker) and called on every batch::

    ds.map_batches(fastscan.BatchScorer, fn_constructor_kwargs={"min_score": 3},
                   batch_format="pyarrow", concurrency=4)
    df.mapInArrow(fastscan.score_batches_fn(min_score=3), schema)

Every output batch, empty ones included, has the schema `output_schema` gives: the input's
columns, then ``score``, one count column per pack group, ``formats``, ``reject_reason``,
the later stages' columns, ``decision``, ``dropped_by`` and ``drop_reason``: the columns and
decisions of ``fastscan-filter``'s scores files, from the same `Pipeline`.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from fastscan.filter.config import FilterConfig
from fastscan.filter.outputs import batch_texts
from fastscan.filter.run import ConfigSpec, load_tokenizer
from fastscan.pipeline import Pipeline

# Columns of a scores batch that only make sense for a shard file (row number, byte range).
_POSITION_COLUMNS = ("row", "offset", "length")


class BatchScorer:
    """Scores the text (or token-id) column of Arrow batches with every stage of a filter
    config: the keep rule, then the later stages ([stats], [dsir], [static], [semantic]) on its
    survivors, with the columns and decisions of ``fastscan-filter``'s scores files. A
    ``top_fraction`` (a ranking over a whole run) is refused.

    Args:
        config: a `FilterConfig`, a ``cascade.toml`` path, or ``None`` for the defaults.
        threads: threads per call. ``None`` resolves ``FASTSCAN_THREADS``, then
            ``OMP_NUM_THREADS`` (Ray and Spark set it to the worker's CPUs), then the CPUs
            this process may use.
        drop_rejected: leave out rows whose text could not be read (null, unknown token id).
        kept_only: leave out every row the keep rule does not keep.
        prefix: put before every appended column name (for inputs that already have one).
        **settings: `FilterConfig` fields overriding the config (``min_score=3``, ...).

    Calling it with a ``pyarrow.RecordBatch`` returns a RecordBatch, with a ``pyarrow.Table``
    a Table. An instance pickles by its arguments: workers rebuild the scanner.
    """

    def __init__(
        self,
        config: ConfigSpec = None,
        *,
        threads: int | None = None,
        drop_rejected: bool = False,
        kept_only: bool = False,
        prefix: str = "",
        **settings: Any,
    ) -> None:
        self.config = FilterConfig.resolve(config, **settings)
        ranked = self.config.ranked_stages()
        if ranked:  # never a silent subset of the config
            raise ValueError(
                f"[{ranked[0]}] top_fraction ranks a whole run; BatchScorer sees one batch at a "
                "time: use a threshold (min_similarity, min_log_importance) here, or "
                "fastscan-filter for the ranking"
            )
        # Every stage of the config runs, as fastscan-filter runs it: one `Pipeline`.
        self.pipeline = Pipeline(self.config, threads=threads)
        self._arguments: dict[str, Any] = {
            "config": config,
            "threads": threads,
            "drop_rejected": drop_rejected,
            "kept_only": kept_only,
            "prefix": prefix,
            **settings,
        }
        self.scanner = self.pipeline.scanner
        self.tokenizer = load_tokenizer(self.config)
        self.drop_rejected = drop_rejected
        self.kept_only = kept_only
        self.prefix = prefix
        empty = self.pipeline.score(pa.array([], pa.large_string()))
        self.score_fields = [f for f in empty.schema if f.name not in _POSITION_COLUMNS]

    def output_schema(self, schema: pa.Schema) -> pa.Schema:
        """The schema of the batches returned for inputs of ``schema``."""
        fields = list(schema)
        names = set(schema.names)
        for f in self.score_fields:
            name = self.prefix + f.name
            if name in names:
                raise ValueError(
                    f"the input already has a column {name!r}: pass prefix='fastscan_' "
                    "(or another) to name the score columns apart"
                )
            fields.append(f.with_name(name))
        return pa.schema(fields, metadata=schema.metadata)

    def __call__(self, batch: Any) -> Any:
        """Scores a ``pyarrow.RecordBatch`` (returns one) or a ``pyarrow.Table`` (a Table)."""
        if isinstance(batch, pa.Table):
            schema = self.output_schema(batch.schema)
            parts = [self.score(b) for b in batch.to_batches()]
            return pa.Table.from_batches(parts, schema=schema)
        return self.score(batch)

    def score(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """One RecordBatch with the score columns appended (and rows dropped if asked)."""
        schema = self.output_schema(batch.schema)
        texts, bad = batch_texts(batch, self.config, self.tokenizer)
        scores = self.pipeline.score(texts, [i for i, _ in bad])
        columns = list(batch.columns) + [_array(scores.column(f.name)) for f in self.score_fields]
        out = pa.RecordBatch.from_arrays(columns, schema=schema)
        decision = _array(scores.column("decision"))
        if self.kept_only:
            return out.filter(pc.equal(decision, "kept"))
        if self.drop_rejected:
            return out.filter(pc.not_equal(decision, "rejected"))
        return out

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (self._arguments,))

    def __repr__(self) -> str:
        return (
            f"<BatchScorer pack={self.config.pack!r} min_score={self.config.min_score} "
            f"require={list(self.config.require)} threads={self.scanner.threads}>"
        )


def _array(column: Any) -> pa.Array:
    """One array from an array or a chunked array."""
    return column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column


def _rebuild(arguments: dict[str, Any]) -> BatchScorer:
    return BatchScorer(**arguments)


def score_batches(
    batches: Iterable[pa.RecordBatch], config: ConfigSpec = None, **kwargs: Any
) -> Iterator[pa.RecordBatch]:
    """Scores a stream of RecordBatches (Spark ``mapInArrow``'s shape); one scorer for all.

    Takes the arguments of `BatchScorer`.
    """
    scorer = BatchScorer(config, **kwargs)
    for batch in batches:
        yield scorer.score(batch)


def score_batches_fn(
    config: ConfigSpec = None, **kwargs: Any
) -> Callable[[Iterable[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    """A function for ``DataFrame.mapInArrow``: ``df.mapInArrow(score_batches_fn(...), schema)``.

    It pickles (plain pickle too) with its arguments; each Spark Python worker builds its
    scanner once per partition. The schema to pass is
    ``BatchScorer(...).output_schema(input_schema)`` in Spark's types.
    """
    if isinstance(config, os.PathLike):
        config = os.fspath(config)
    return functools.partial(score_batches, config=config, **kwargs)
