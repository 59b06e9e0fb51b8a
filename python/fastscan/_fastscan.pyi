"""Type stubs for the Rust extension `fastscan._fastscan` (use the `fastscan` package API)."""

import os
from typing import Any, Literal, final, overload

import pyarrow as pa
from typing_extensions import Self

__version__: str
DEFAULT_MIN_SCORE: float

class PackError(ValueError):
    """A pattern pack that cannot be compiled."""

    group: str | None
    pattern: str | None
    reason: str

def parse_pack(source: str, syntax: Literal["toml", "json"] = "toml") -> dict[str, Any]:
    """Parses and validates a pack; returns its meta, groups, formats and patterns."""

@overload
def fold(text: str) -> str: ...
@overload
def fold(text: bytes) -> bytes: ...
def stat_names() -> list[str]:
    """The statistics stage's column names, in order."""

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
    def stats_list(self, texts: list[str | bytes]) -> pa.RecordBatch:
        """Document statistics of a list of str/bytes."""
    def stats_arrow(self, array: Any) -> pa.RecordBatch:
        """Document statistics of an Arrow string/binary array."""
    @property
    def threads(self) -> tuple[int, str]: ...
    @property
    def pattern_counts(self) -> bool: ...
    def judge_arrow(
        self,
        array: Any,
        *,
        first_row: int = 0,
        min_score: float = ...,
        require: list[str] = ...,
        invalid_tokens: list[int] = ...,
    ) -> pa.RecordBatch:
        """Scores and decides an Arrow text array; returns a scores batch."""
    def keeps_arrow(
        self, batch: pa.RecordBatch, *, min_score: float = ..., require: list[str] = ...
    ) -> Any:
        """The keep rule over a scores batch: one boolean per row."""

@final
class JsonlShard:
    """A JSONL shard being scanned; yields one scores batch per block (with
    ``survivor_texts``, a ``(batch, texts)`` pair). With a kept output (``kept_path`` or
    ``lmflow_dir``) the survivors' lines wait until `keep_survivors` decides them."""

    def __new__(
        cls,
        scanner: Scanner,
        path: str | os.PathLike[str],
        *,
        rejects_path: str | os.PathLike[str],
        rejects_compression: str = "none",
        text_field: str = "text",
        min_score: float = ...,
        require: list[str] = ...,
        block_bytes: int = ...,
        max_record_bytes: int = ...,
        survivor_texts: bool = False,
        id_field: str | None = None,
        kept_path: str | os.PathLike[str] | None = None,
        kept_compression: str = "none",
        lmflow_dir: str | os.PathLike[str] | None = None,
        lmflow_stem: str = "kept",
        lmflow_max_bytes: int = ...,
    ) -> Self: ...
    def __iter__(self) -> Self: ...
    def __next__(self) -> Any: ...
    def keep_survivors(self, keep: Any) -> None:
        """Decides the oldest survivors waiting (with a kept output), one boolean each, in
        order: the ones true are written to the kept output."""
    @property
    def consumed(self) -> int: ...
    @property
    def blank_lines(self) -> int: ...
    def finish(self) -> tuple[str | None, list[str]]:
        """Completes the outputs: (the rejects file or None, the kept files written)."""

def copy_rows(
    path: str | os.PathLike[str],
    rows: Any,
    offsets: Any,
    lengths: Any,
    *,
    kept_path: str | os.PathLike[str] | None = None,
    kept_compression: str = "none",
    lmflow_dir: str | os.PathLike[str] | None = None,
    lmflow_stem: str = "kept",
    lmflow_max_bytes: int = ...,
    text_field: str = "text",
    block_bytes: int = ...,
    max_record_bytes: int = ...,
) -> list[str]:
    """Writes the chosen lines of a JSONL shard; returns the files written."""

@final
class LmflowWriter:
    """Writes texts into LMFlow text_only JSON files."""

    def __new__(cls, dir: str | os.PathLike[str], stem: str, max_bytes: int) -> Self: ...
    def write_arrow(self, array: Any) -> None: ...
    def finish(self) -> list[str]: ...

@final
class Tokenizer:
    """A GPT-2-style byte-level BPE vocabulary."""

    def __new__(cls, json: str) -> Self: ...
    @property
    def vocab_size(self) -> int: ...
    def decode_arrow(self, array: Any) -> tuple[pa.Array, list[tuple[int, int | None]]]:
        """Decodes a list<int> array: (texts, [(row, bad id, None for a null id)])."""

@final
class NgramCounter:
    """Counts hashed n-gram buckets of text batches."""

    def __new__(cls, buckets: int, n: int, *, threads: int | None = None) -> Self: ...
    def count_arrow(self, array: Any) -> pa.Array:
        """Summed bucket counts of an Arrow text array (uint64)."""

@final
class NgramModel:
    """A fitted DSIR importance model."""

    def __new__(
        cls,
        target: list[int],
        raw: list[int],
        *,
        buckets: int,
        n: int,
        smoothing_kind: str = "epsilon",
        smoothing_value: float = 1e-8,
        threads: int | None = None,
    ) -> Self: ...
    def importance_arrow(self, array: Any) -> tuple[pa.Array, pa.Array]:
        """(log importance weights, token counts) of an Arrow text array."""
    @property
    def log_ratio(self) -> list[float]: ...
    @property
    def threads(self) -> int: ...

def ngram_bucket(feature: str, buckets: int) -> int:
    """The bucket of one feature string (tokens joined by single spaces)."""

def doc_frequencies(
    array: Any, min_n: int = 1, max_n: int = 3, *, threads: int | None = None
) -> dict[str, int]:
    """Document frequencies of word n-grams of an Arrow text array."""

@final
class ToolCalls:
    """Checks and converts blocks of tool-call records on a thread pool."""

    def __new__(cls, *, threads: int | None = None) -> Self: ...
    def check(
        self, array: Any, *, format: str | None = None
    ) -> tuple[pa.RecordBatch, pa.RecordBatch]:
        """(records, violations) batches of an Arrow array of JSON records."""
    def convert(
        self, array: Any, to: str, *, from_format: str | None = None, allow: list[str] = ...
    ) -> pa.RecordBatch:
        """One row per record: status, output, from, reason, detail, lost."""
    def extract(
        self, array: Any, *, text_field: str | None = None
    ) -> tuple[pa.RecordBatch, pa.RecordBatch, pa.RecordBatch, pa.RecordBatch]:
        """(docs, specs, calls, rejected) batches of an Arrow array of documents."""

@final
class LineReader:
    """Blocks of whole JSONL lines of a file (compression by suffix) as record batches."""

    def __new__(
        cls, path: str | os.PathLike[str], *, block_bytes: int = ..., max_record_bytes: int = ...
    ) -> Self: ...
    def __iter__(self) -> Self: ...
    def __next__(self) -> pa.RecordBatch: ...

@final
class LineWriter:
    """Writes lines to a file compressed as its (or `like`'s) suffix says."""

    def __new__(
        cls, path: str | os.PathLike[str], *, like: str | os.PathLike[str] | None = None
    ) -> Self: ...
    def write(self, array: Any, mask: Any = None) -> None:
        """Writes the array's elements where `mask` is true, one per line."""
    def finish(self) -> None:
        """Completes the file."""

def toolcall_canonical(record: str, format: str | None = None) -> tuple[str, str]:
    """(format, canonical record as JSON) of one JSON record."""

def toolcall_tables() -> dict[str, Any]:
    """Formats, rules, losses and modes, as the core defines them."""

def normalize_type(spelling: str) -> tuple[str, bool] | None:
    """(JSON Schema as JSON, optional) of one type spelling; None when unknown."""
