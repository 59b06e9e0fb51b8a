"""fastscan on Ray, for corpora larger than one machine.

* `filter_shards`: shard-level mode, one Ray task per shard, the outputs and report of
  ``fastscan-filter`` (also ``fastscan-filter --ray [ADDRESS]``).
* `BatchScorer`: batch-level mode, a callable class for
  ``ray.data.Dataset.map_batches(BatchScorer, batch_format="pyarrow", ...)``.

Importing this module does not import Ray; the functions that need it do.
"""

from fastscan.batches import BatchScorer, score_batches, score_batches_fn
from fastscan.ray.shards import connect, filter_shards

__all__ = ["BatchScorer", "connect", "filter_shards", "score_batches", "score_batches_fn"]
