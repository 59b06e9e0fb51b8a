"""`FastscanFilter`: a datatrove filter that keeps what ``fastscan-filter`` keeps.

    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter
    from fastscan.integrations.datatrove import FastscanFilter

    LocalPipelineExecutor(pipeline=[
        JsonlReader("shards/"),
        FastscanFilter("cascade.toml"),          # or FastscanFilter(min_score=3), ...
        JsonlWriter("kept/"),
    ], tasks=4).run()

Every stage of the config runs on each batch of documents (patterns, then ``[stats]``,
``[dsir]``, ``[semantic]``), with the decisions of ``fastscan-filter``. A dropped document's
datatrove reason is the stage that dropped it (``patterns``, ``stats``, ...); its metadata
gets ``fastscan_score`` and, when dropped, ``fastscan_drop_reason``. A ``top_fraction``
ranks a whole run, which a filter that sees one batch at a time cannot do: such a config is
refused when the filter is built.
"""

from __future__ import annotations

import os
from typing import Any

import pyarrow as pa
from datatrove.data import Document
from datatrove.pipeline.filters.base_filter import BaseFilter

from fastscan.cascade import Cascade
from fastscan.filter.config import FilterConfig
from fastscan.pipeline import Pipeline

ConfigSpec = FilterConfig | str | os.PathLike[str] | None


class FastscanFilter(BaseFilter):  # type: ignore[misc]  # datatrove has no type hints
    """Keeps the documents a fastscan config keeps.

    Args:
        config: a `FilterConfig`, a ``cascade.toml`` path, or None (the defaults).
        batch_size: documents scored per call (the Rust scanner and the embedding model work
            best on batches).
        threads: scanner threads (None: ``FASTSCAN_THREADS``, then the CPUs).
        exclusion_writer: a datatrove writer for the dropped documents.
        **settings: `FilterConfig` fields overriding the config (``min_score=3``, ...).
    """

    name = "fastscan"

    def __init__(
        self,
        config: ConfigSpec = None,
        *,
        batch_size: int = 1024,
        threads: int | None = None,
        exclusion_writer: Any = None,
        **settings: Any,
    ) -> None:
        super().__init__(exclusion_writer, batch_size)
        self.config = FilterConfig.resolve(config, **settings)
        self.config.check()
        ranked = self.config.ranked_stages()
        if ranked:
            raise ValueError(
                f"[{ranked[0]}] top_fraction ranks a whole run; a datatrove filter sees one "
                "batch at a time: use a threshold (min_similarity, min_log_importance) here"
            )
        self.threads = threads
        self._cascade: Cascade | None = None

    def __getstate__(self) -> dict[str, Any]:
        # Workers rebuild the stages (the scanner and the model are not pickled).
        return {**self.__dict__, "_cascade": None}

    @property
    def cascade(self) -> Cascade:
        if self._cascade is None:
            self._cascade = Pipeline(self.config, threads=self.threads)
        return self._cascade

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        result: bool | tuple[bool, str] = self.filter_batch([doc])[0]
        return result

    def filter_batch(self, batch: list[Document]) -> list[bool | tuple[bool, str]]:
        texts = pa.array([doc.text for doc in batch], pa.large_string())
        table = self.cascade.run(texts).table
        scores = table.column("score").to_pylist()
        decisions = table.column("decision").to_pylist()
        stages = table.column("dropped_by").to_pylist()
        reasons = table.column("drop_reason").to_pylist()
        out: list[bool | tuple[bool, str]] = []
        for doc, score, decision, stage, reason in zip(
            batch, scores, decisions, stages, reasons, strict=True
        ):
            doc.metadata["fastscan_score"] = score
            if decision == "kept":
                out.append(True)
            else:
                doc.metadata["fastscan_drop_reason"] = reason
                out.append((False, stage or "rejected"))
        return out
