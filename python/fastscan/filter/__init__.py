"""The shard pipeline behind ``fastscan-filter``: plan, run, resume, report.

* `config`: `FilterConfig` (flags or ``cascade.toml``).
* `plan`: finding shards and their formats.
* `shard`: one shard, read and judged in Rust, written to staging and committed.
* `tally`: per-shard and total counts from the scores batches.
* `run`: `filter_shards`, the whole run with resume and parallel shards.
* `report`, `progress`: the summary, report.html, the progress bar.
* `cli`: the ``fastscan-filter`` command.
"""

from fastscan.filter.config import ConfigError, FilterConfig
from fastscan.filter.run import UsageError, filter_shards

__all__ = ["ConfigError", "FilterConfig", "UsageError", "filter_shards"]
