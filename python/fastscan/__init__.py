"""fastscan: a fast, exact prefilter that mines LLM pretraining corpora for tool-use data.

>>> import fastscan
>>> scanner = fastscan.Scanner("tool-use")
>>> row = scanner.scan_one('<tool_call>{"name": "get_weather", "arguments": {}}</tool_call>')
>>> row["formats"]
['hermes', 'xlam']
"""

from fastscan._fastscan import PackError, __version__, fold
from fastscan.batches import BatchScorer, score_batches, score_batches_fn
from fastscan.cascade import (
    Cascade,
    DsirStage,
    PatternStage,
    SemanticStage,
    StaticStage,
    StatsStage,
)
from fastscan.filter import FilterConfig, filter_shards
from fastscan.ngrams import NgramModel
from fastscan.pack import FormatInfo, GroupInfo, PatternInfo, PatternPack, builtin_packs
from fastscan.pipeline import Pipeline
from fastscan.scanner import Scanner, resolve_threads
from fastscan.toolcalls.extract import extract

__all__ = [
    "BatchScorer",
    "Cascade",
    "DsirStage",
    "FilterConfig",
    "FormatInfo",
    "GroupInfo",
    "NgramModel",
    "PackError",
    "PatternInfo",
    "PatternPack",
    "PatternStage",
    "Pipeline",
    "Scanner",
    "SemanticStage",
    "StaticStage",
    "StatsStage",
    "__version__",
    "builtin_packs",
    "extract",
    "filter_shards",
    "fold",
    "resolve_threads",
    "score_batches",
    "score_batches_fn",
]
