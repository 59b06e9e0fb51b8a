"""The selection cascade: patterns, then statistics and DSIR importance, then semantics.

* `stages`: `PatternStage`, `StatsStage`, `DsirStage`, `Selection`, `StageResult`.
* `semantic`: `SemanticStage` (sentence-transformers, the ``fastscan[semantic]`` extra).
* `gold`: gold sets from text or function-calling datasets.
* `cascade`: `Cascade`, `CascadeResult`; `funnel`: `StageFunnel`.
* `decide`: every record's final decision; `ranking`: a `top_fraction` over a whole run.
"""

from fastscan.cascade.cascade import Cascade, CascadeResult
from fastscan.cascade.funnel import StageFunnel
from fastscan.cascade.gold import GoldError, load_gold, render
from fastscan.cascade.semantic import SemanticStage, StaticStage
from fastscan.cascade.stages import (
    DsirStage,
    PatternStage,
    Selection,
    Stage,
    StageResult,
    StatsStage,
)

__all__ = [
    "Cascade",
    "CascadeResult",
    "DsirStage",
    "GoldError",
    "PatternStage",
    "Selection",
    "SemanticStage",
    "Stage",
    "StageFunnel",
    "StageResult",
    "StaticStage",
    "StatsStage",
    "load_gold",
    "render",
]
