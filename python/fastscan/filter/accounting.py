"""`Accounting`: what a shard's report entry counts, from its decided scores batches.

The tally (documents and bytes per decision, reject reasons, hits), the funnel (per stage:
documents and bytes in and out, drop reasons) and the summary (distributions, hits among
kept), added batch by batch. Phase 1 keeps one when its decisions are final (no stage ranks
the run) and stores it in the shard's marker; otherwise phase 2 counts while it decides.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from fastscan.cascade.decide import Decisions, funnel
from fastscan.cascade.funnel import StageFunnel
from fastscan.filter.distributions import merge, summarize
from fastscan.filter.tally import Tally


class Accounting:
    """Counts decided scores batches of one shard; `names`: the stages, `min_hits`: each
    group's hit threshold."""

    def __init__(self, names: list[str], min_hits: dict[str, int]) -> None:
        self.names = names
        self.min_hits = min_hits
        self.tally = Tally()
        self.lines: dict[str, StageFunnel] = {}
        self.summaries: list[dict[str, Any]] = []

    def add(self, decided: pa.RecordBatch, decisions: Decisions) -> None:
        self.tally.add(decided, self.min_hits)
        self.summaries.append(summarize(decided, self.min_hits))
        for line in funnel(self.names, decisions, decided.column("length")):
            if line.name in self.lines:
                self.lines[line.name].merge(line)
            else:
                self.lines[line.name] = line
        if len(self.summaries) > 64:  # keep memory flat over long shards
            self.summaries = [merge(self.summaries)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "tally": self.tally.to_dict(),
            "funnel": [line.to_dict() for line in self.lines.values()],
            "summary": merge(self.summaries),
        }

    @classmethod
    def from_dict(
        cls, data: dict[str, Any], names: list[str], min_hits: dict[str, int]
    ) -> Accounting:
        out = cls(names, min_hits)
        out.tally = Tally.from_dict(data["tally"])
        out.lines = {d["stage"]: StageFunnel.from_dict(d) for d in data["funnel"]}
        out.summaries = [data["summary"]]
        return out
