"""`Context`: what every shard of a run shares (the settings, the scanner, the output)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fastscan import _fastscan
from fastscan.filter.config import FilterConfig
from fastscan.pipeline import Pipeline
from fastscan.scanner import Scanner


@dataclass
class Context:
    """What every shard of a run shares."""

    config: FilterConfig
    out: Path
    tokenizer: _fastscan.Tokenizer | None
    pipeline: Pipeline
    run_id: str = "run"

    @property
    def scanner(self) -> Scanner:
        """The pattern scanner (the pipeline's)."""
        return self.pipeline.scanner
