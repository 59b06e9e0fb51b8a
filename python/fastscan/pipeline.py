"""`Pipeline`: every stage of a filter config, composed once, for every entry point.

``fastscan-filter`` (local and ``--ray``), ``fastscan select``, `BatchScorer` /
`score_batches`, the datatrove filter and `Pipeline.run` in Python all run a record through
this object: the keep rule (stage 1, scanned in the core), then the stages of ``[stats]``,
``[dsir]``, ``[static]``, ``[semantic]`` on the keep rule's survivors, then one decision
(`fastscan.cascade.decide`)::

    pipeline = fastscan.Pipeline(fastscan.FilterConfig(min_score=3, stats={...}))
    batch = pipeline.score(texts)   # a scores batch: every stage's columns and decisions
    result = pipeline.run(texts)    # Cascade.run: with each top_fraction over all texts
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from fastscan.cascade import Cascade, PatternStage
from fastscan.cascade.cascade import Watcher, as_texts, spread
from fastscan.cascade.decide import DECISION_COLUMNS, Decisions, decide
from fastscan.cascade.ranking import Cutoff
from fastscan.filter.config import FilterConfig
from fastscan.scanner import Scanner


class Pipeline(Cascade):
    """The stages of `config` in order, the patterns first; validated when built.

    Args:
        config: the settings (`FilterConfig`).
        scanner: the pattern scanner to share (default: one for the config's pack).
        threads: threads of a new scanner; the later stages use as many.
    """

    def __init__(
        self, config: FilterConfig, scanner: Scanner | None = None, threads: int | None = None
    ) -> None:
        config.check()
        self.config = config
        self.scanner = scanner or Scanner(config.load_pack(), threads)
        patterns = PatternStage(
            min_score=config.min_score,
            require=config.require,
            scanner=self.scanner,
            top_fraction=config.top_fraction,
            top_fraction_of=config.top_fraction_of,
        )
        # The later stages split their work as the scan does (one thread per shard when
        # shards go side by side).
        later = [stage.with_threads(self.scanner.threads) for stage in config.later_stages()]
        super().__init__([patterns, *later])
        self.later = Cascade(self.stages[1:]) if len(self.stages) > 1 else None

    @property
    def ranked(self) -> list[str]:
        """The stages that keep a `top_fraction` (a ranking over a whole run)."""
        return [stage.name for stage in self.stages if stage.top_fraction is not None]

    @property
    def min_hits(self) -> dict[str, int]:
        """Each group's hit threshold (what the report counts as a hit)."""
        return {g.name: g.min_hits for g in self.scanner.pack.groups}

    def judge(
        self, texts: pa.Array, first_row: int = 0, invalid_tokens: Sequence[int] = ()
    ) -> pa.RecordBatch:
        """Stage 1 over an Arrow array of texts, as the scan of a shard does it: the scores
        batch (row, offset, length, pattern columns, decision, reject_reason)."""
        return self.scanner._inner.judge_arrow(
            texts,
            first_row=first_row,
            min_score=self.config.min_score,
            require=list(self.config.require),
            invalid_tokens=list(invalid_tokens),
        )

    def measure_later(
        self, survivors: pa.Array, watcher: Watcher | None = None
    ) -> tuple[pa.Table | None, dict[str, tuple[float, float]]]:
        """The later stages' columns for stage 1's survivors (one row each), and each
        stage's (setup seconds, seconds)."""
        if self.later is None:
            return None, {}
        columns, seconds = self.later.measure(as_texts(survivors), watcher)
        return pa.table(columns), seconds

    def complete(
        self,
        judged: pa.RecordBatch,
        later: pa.Table | None,
        cutoffs: Mapping[str, Cutoff] | None = None,
        part: int = 0,
    ) -> pa.RecordBatch:
        """A scores batch with the later stages' columns (`later`: one row per survivor of
        `judged`, in order) and every record's decision."""
        return self.complete_decided(judged, later, cutoffs, part)[0]

    def complete_decided(
        self,
        judged: pa.RecordBatch,
        later: pa.Table | None,
        cutoffs: Mapping[str, Cutoff] | None = None,
        part: int = 0,
    ) -> tuple[pa.RecordBatch, Decisions]:
        """`complete`, with the decisions (for the funnel's stages passed)."""
        columns = {
            name: judged.column(name)
            for name in judged.schema.names
            if name not in DECISION_COLUMNS
        }
        if later is not None:
            survivor = pc.equal(judged.column("decision"), "kept")
            for name in later.schema.names:
                columns[name] = spread(later.column(name), survivor)
        table = pa.RecordBatch.from_pydict(columns)
        decisions = decide(self.stages, table, cutoffs, part, judged.column("row"))
        return pa.RecordBatch.from_pydict({**columns, **decisions.columns()}), decisions

    def score(self, texts: Any, invalid_tokens: Sequence[int] = ()) -> pa.RecordBatch:
        """Every stage over one batch of texts (thresholds only: a ranking needs the run)."""
        texts = as_texts(texts)
        judged = self.judge(texts, invalid_tokens=invalid_tokens)
        survivors = pc.filter(texts, pc.equal(judged.column("decision"), "kept"))
        later, _ = self.measure_later(survivors)
        return self.complete(judged, later)
