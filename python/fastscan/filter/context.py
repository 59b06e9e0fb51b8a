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
    scanner: Scanner
    out: Path
    tokenizer: _fastscan.Tokenizer | None
    pipeline: Pipeline
    run_id: str = "run"

    @property
    def min_hits(self) -> dict[str, int]:
        return {g.name: g.min_hits for g in self.scanner.pack.groups}
