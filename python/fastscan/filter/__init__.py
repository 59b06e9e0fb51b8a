"""The shard pipeline behind ``fastscan-filter``: plan, run, resume, report.

* `config`: `FilterConfig` (flags or ``cascade.toml``).
* `plan`: finding shards and their formats.
* `shard`: one shard, read and judged in Rust, written to staging and committed.
* `tally`: per-shard and total counts from the scores batches.
* `run`: `filter_shards`, the whole run with resume and parallel shards.
* `report`, `progress`: the summary, report.html, the progress bar.
* `cli`: the ``fastscan-filter`` command.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastscan.filter.config import ConfigError, FilterConfig
    from fastscan.filter.run import UsageError, filter_shards

__all__ = ["ConfigError", "FilterConfig", "UsageError", "filter_shards"]

# Loaded on first use, so that a low-level module importing `fastscan.filter.plan` (the
# corpus readers, the tool-call commands) does not pull in the whole pipeline (and its
# imports of those modules: an import cycle).
_HOME = {
    "ConfigError": "fastscan.filter.config",
    "FilterConfig": "fastscan.filter.config",
    "UsageError": "fastscan.filter.run",
    "filter_shards": "fastscan.filter.run",
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'fastscan.filter' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
