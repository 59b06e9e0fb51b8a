"""What a shard writes and how its text is read: output names and compression by suffix, the
kept-record writers (Parquet, JSONL, LMFlow), a batch's text column, JSON lines of Parquet
rows. Shared by the shard pipeline (`shard`), the later stages (`later`) and `BatchScorer`."""

from __future__ import annotations

import base64
import json
import math
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.json as pajson
import pyarrow.parquet as pq

from fastscan import _fastscan
from fastscan.filter.config import FilterConfig
from fastscan.filter.plan import Shard, compression_of

COMPRESSION_SUFFIX = {"none": "", "gzip": ".gz", "zstd": ".zst"}


class ShardError(ValueError):
    """A shard that cannot be read as a whole (bad file, wrong columns): the run goes on."""


def input_compression(shard: Shard) -> str:
    """The compression of a shard's file (by its suffix)."""
    return compression_of(shard.suffix)


def rejects_name(shard: Shard) -> tuple[str, str]:
    """(compression, file name relative to ``rejects/``) of a shard's rejects: JSON lines,
    compressed like a JSONL input, zstd for Parquet."""
    compression = "zstd" if shard.format == "parquet" else input_compression(shard)
    return compression, f"{shard.relative}.jsonl{COMPRESSION_SUFFIX[compression]}"


def kept_name(shard: Shard, config: FilterConfig) -> tuple[str, str]:
    """(output format, file name relative to ``kept/``) of a shard's kept records."""
    fmt = config.output_format
    if fmt == "auto":
        fmt = shard.format or "jsonl"
    rel = shard.relative
    if fmt == "lmflow":
        return fmt, rel  # a stem: files are REL.00000.json, REL.00001.json, ...
    if fmt == shard.format == "jsonl":
        if config.output_compression is None:
            return fmt, rel
        base = rel[: len(rel) - len(shard.suffix)]
        is_json = shard.suffix.startswith(".json.") or shard.suffix == ".json"
        plain = ".json" if is_json else ".jsonl"
        return fmt, base + plain + COMPRESSION_SUFFIX[config.output_compression]
    if fmt == shard.format:
        return fmt, rel
    if fmt == "jsonl":
        return fmt, rel + ".jsonl" + COMPRESSION_SUFFIX[config.output_compression or "none"]
    return fmt, rel + ".parquet"


def output_paths(shard: Shard, config: FilterConfig) -> list[str]:
    """Where a run writes a shard's outputs, relative to OUT (for LMFlow, the stem its
    numbered files take): what the run checks for collisions before it writes."""
    return [
        f"kept/{kept_name(shard, config)[1]}",
        f"scores/{shard.relative}.parquet",
        f"rejects/{rejects_name(shard)[1]}",
    ]


def jsonl_to_parquet(source: Path, target: Path) -> Path:
    """Kept JSONL lines as a Parquet table (columns inferred from the records)."""
    if source.stat().st_size == 0:
        table = pa.table({"text": pa.array([], pa.string())})
    else:
        try:
            table = pajson.read_json(source)
        except pa.ArrowInvalid as e:
            raise ShardError(
                f"kept records do not fit one Parquet schema ({e}); use --output-format jsonl"
            ) from e
    pq.write_table(table, target, compression="zstd")
    source.unlink()
    return target


def column_at(batch: pa.RecordBatch, name: str) -> pa.Array | None:
    """Column `name` of a batch; dots reach into struct columns (``meta.body``)."""
    if name in batch.schema.names:
        return batch.column(name)
    head, *rest = name.split(".")
    if head not in batch.schema.names:
        return None
    array: pa.Array = batch.column(head)
    for part in rest:
        if not pa.types.is_struct(array.type) or array.type.get_field_index(part) < 0:
            return None
        array = array.field(part)
    return array


def batch_texts(
    batch: pa.RecordBatch, cfg: FilterConfig, tokenizer: _fastscan.Tokenizer | None
) -> tuple[pa.Array, list[tuple[int, int | None]]]:
    """The texts of a batch: its text column (dots reach into structs), else its token-id
    column decoded; with the rows holding an unknown id (row, id; None for a null id)."""
    texts = column_at(batch, cfg.text_field)
    if texts is not None:
        return texts, []
    tokens = column_at(batch, cfg.tokens_field)
    if tokens is None:
        raise ShardError(
            f"no text column {cfg.text_field!r} (nor token column {cfg.tokens_field!r}); "
            f"columns: {', '.join(batch.schema.names)}"
        )
    if tokenizer is None:
        raise ShardError(
            f"column {cfg.tokens_field!r} holds token ids: give a tokenizer "
            "(--tokenizer / tokenizer=tokenizer.json)"
        )
    try:
        return tokenizer.decode_arrow(tokens)
    except TypeError as e:  # not a list of integers: list<double>, nested lists, ...
        raise ShardError(f"token column {cfg.tokens_field!r} ({tokens.type}): {e}") from e


class KeptRows:
    """Kept rows of a Parquet shard: Parquet (input schema), JSONL, or LMFlow."""

    def __init__(
        self, fmt: str, kept_dir: Path, shard: Shard, cfg: FilterConfig, schema: pa.Schema
    ) -> None:
        self.fmt = fmt
        self.files: list[Path] = []
        self.parquet: pq.ParquetWriter | None = None
        self.jsonl: Any = None
        self.lmflow: _fastscan.LmflowWriter | None = None
        if fmt == "parquet":
            path = kept_dir / "part"
            self.parquet = pq.ParquetWriter(path, schema, compression="zstd")
            self.files.append(path)
        elif fmt == "jsonl":
            path = kept_dir / "part"
            self.jsonl = open_text_writer(path, cfg.output_compression or "none")
            self.files.append(path)
        else:
            self.lmflow = _fastscan.LmflowWriter(
                kept_dir, Path(shard.relative).name, cfg.lmflow_shard_mb << 20
            )

    def write(self, batch: pa.RecordBatch, texts: pa.Array, mask: pa.Array) -> None:
        if self.parquet is not None:
            self.parquet.write_batch(batch.filter(mask))
        elif self.jsonl is not None:
            for record in batch.filter(mask).to_pylist():
                self.jsonl.write(json_line(record))
                self.jsonl.write("\n")
        elif self.lmflow is not None:
            self.lmflow.write_arrow(texts.filter(mask))

    def close(self) -> list[Path]:
        if self.parquet is not None:
            self.parquet.close()
        if self.jsonl is not None:
            self.jsonl.close()
        if self.lmflow is not None:
            self.files.extend(Path(p) for p in self.lmflow.finish())
        return self.files


def open_bytes_writer(path: Path, compression: str) -> Any:
    """A binary file, or a pyarrow gzip / zstd stream, for verbatim kept lines."""
    if compression == "none":
        return open(path, "wb")
    return pa.CompressedOutputStream(str(path), compression)


def open_text_writer(path: Path, compression: str) -> Any:
    if compression == "none":
        return open(path, "w", encoding="utf-8")
    return _ArrowText(path, compression)


class _ArrowText:
    """A text writer over a pyarrow gzip or zstd stream."""

    def __init__(self, path: Path, compression: str) -> None:
        self.stream = pa.CompressedOutputStream(str(path), compression)

    def write(self, text: str) -> None:
        self.stream.write(text.encode())

    def close(self) -> None:
        self.stream.close()


def _stored(value: Any) -> Any:
    """`value` as the record it stores: NaN and infinities as None (JSON has no spelling for
    them), and a struct's null fields absent (a Parquet struct type holds every key any row
    has; a row without one stores null)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _stored(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_stored(v) for v in value]
    return value


def json_line(record: Any) -> str:
    """A Parquet row as a JSON line: the record it stores (see `_stored`), bytes as base64,
    other non-JSON values as their text; always valid JSON. Every command that reads Parquet
    rows as JSON records goes through here."""
    return json.dumps(_stored(record), ensure_ascii=False, default=_json_default, allow_nan=False)


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return str(value)
