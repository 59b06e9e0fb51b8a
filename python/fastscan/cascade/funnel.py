"""`StageFunnel`: one stage's line of a run's funnel (documents and bytes in and out, time,
drop reasons), summed over shards with `merge`."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class StageFunnel:
    """One stage's line of the funnel."""

    name: str
    docs_in: int = 0
    bytes_in: int = 0
    docs_out: int = 0
    bytes_out: int = 0
    seconds: float = 0.0
    setup_seconds: float = 0.0
    drop_reasons: Counter[str] = field(default_factory=Counter)

    def merge(self, other: StageFunnel) -> None:
        self.docs_in += other.docs_in
        self.bytes_in += other.bytes_in
        self.docs_out += other.docs_out
        self.bytes_out += other.bytes_out
        self.seconds += other.seconds
        self.setup_seconds += other.setup_seconds
        self.drop_reasons.update(other.drop_reasons)

    def to_dict(self) -> dict[str, Any]:
        mb = self.bytes_in / 1e6
        return {
            "stage": self.name,
            "docs_in": self.docs_in,
            "bytes_in": self.bytes_in,
            "docs_out": self.docs_out,
            "bytes_out": self.bytes_out,
            "seconds": round(self.seconds, 6),
            "setup_seconds": round(self.setup_seconds, 6),
            "docs_per_s": round(self.docs_in / self.seconds, 1) if self.seconds else None,
            "mb_per_s": round(mb / self.seconds, 3) if self.seconds else None,
            "drop_reasons": dict(self.drop_reasons.most_common()),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StageFunnel:
        return cls(
            name=data["stage"],
            docs_in=data["docs_in"],
            bytes_in=data["bytes_in"],
            docs_out=data["docs_out"],
            bytes_out=data["bytes_out"],
            seconds=data["seconds"],
            setup_seconds=data.get("setup_seconds", 0.0),
            drop_reasons=Counter(data["drop_reasons"]),
        )
