"""Type stubs for the Rust extension `fastscan._fastscan` (use the `fastscan` package API)."""

from typing import Any, Literal, final

import pyarrow as pa
from typing_extensions import Self

__version__: str

class PackError(ValueError):
    """A pattern pack that cannot be compiled."""

    group: str | None
    pattern: str | None
    reason: str

def parse_pack(source: str, syntax: Literal["toml", "json"] = "toml") -> dict[str, Any]:
    """Parses and validates a pack; returns its meta, groups, formats and patterns."""

def resolve_threads(threads: int | None = None) -> tuple[int, str]:
    """Resolves a thread count: `(threads, source)`."""

@final
class Scanner:
    """A compiled pattern pack."""

    def __new__(
        cls,
        source: str,
        *,
        syntax: Literal["toml", "json"] = "toml",
        threads: int | None = None,
        pattern_counts: bool = False,
    ) -> Self: ...
    def scan_list(self, texts: list[str | bytes]) -> pa.RecordBatch:
        """Scans a list of str/bytes."""
    def scan_arrow(self, array: Any) -> pa.RecordBatch:
        """Scans an Arrow string or binary array in place."""
    def scan_one(self, text: str | bytes) -> dict[str, Any]:
        """Scans one document."""
    @property
    def threads(self) -> tuple[int, str]: ...
    @property
    def pattern_counts(self) -> bool: ...
