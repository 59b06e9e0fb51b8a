"""Reading texts (and optional labels) from JSONL / JSONL.gz / JSONL.zst / Parquet files.

For the commands that load a whole, modest corpus into memory: ``fastscan scan``, ``eval``,
``fit-ngrams``, ``discover`` and gold sets. Shard-scale input goes through ``fastscan-filter``.
A line that is not a JSON object with a string text field is a counted reject, never a
silent loss.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq

from fastscan.filter.guard import missing_text_field
from fastscan.filter.plan import PlanError, open_decompressed, plan


class CorpusError(ValueError):
    """An input that cannot be read at all (missing, broken, no text column)."""


@dataclass
class Corpus:
    """Records read from the input files, and the lines that could not be used."""

    ids: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    kinds: list[str | None] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list)
    rejects: list[tuple[str, int, str]] = field(default_factory=list)
    lines: int = 0

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def nbytes(self) -> int:
        return sum(len(t.encode()) for t in self.texts)


def open_text(path: Path) -> IO[str]:
    """A text stream over a .jsonl / .jsonl.gz / .jsonl.zst file, decompressed."""
    return io.TextIOWrapper(
        open_decompressed(path), encoding="utf-8", errors="strict", newline="\n"
    )


def files_of(inputs: Sequence[str | os.PathLike[str]]) -> list[Path]:
    """The files named, found below directories or matched by globs (as fastscan-filter)."""
    try:
        shards, _ = plan(list(inputs))
    except PlanError as e:
        raise CorpusError(str(e)) from e
    return [s.path for s in shards]


def read_corpus(
    inputs: Sequence[str | os.PathLike[str]] | str | os.PathLike[str],
    text_field: str = "text",
    id_field: str = "id",
    kind_field: str = "kind",
    keep_records: bool = False,
) -> Corpus:
    """Every record of the inputs; ``keep_records`` also keeps each whole record."""
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    corpus = Corpus()
    for path in files_of(inputs):
        keys: dict[str, None] = {}  # of the records without the text, while none has it
        texts_before, objects = len(corpus.texts), 0
        try:
            for lineno, record in iter_records(path):
                corpus.lines += 1
                if isinstance(record, str):  # a line that did not parse: the reason
                    corpus.rejects.append((str(path), lineno, record))
                    continue
                objects += 1
                text = field_at(record, text_field)
                if not isinstance(text, str):
                    if len(corpus.texts) == texts_before and len(keys) < 100:
                        keys.update(dict.fromkeys(record))
                    corpus.rejects.append((str(path), lineno, f"no string field {text_field!r}"))
                    continue
                corpus.ids.append(str(record.get(id_field, f"{path}:{lineno}")))
                corpus.texts.append(text)
                kind = record.get(kind_field)
                corpus.kinds.append(None if kind is None else str(kind))
                if keep_records:
                    corpus.records.append(record)
        except (OSError, UnicodeDecodeError, EOFError, pa.ArrowInvalid) as e:
            raise CorpusError(f"cannot read {path}: {e}") from e
        if objects and len(corpus.texts) == texts_before:
            # Not bad data: the text is not where the command looks.
            message = missing_text_field(text_field, f"its {objects:,}", list(keys))
            raise CorpusError(f"{path}: {message}")
    return corpus


def field_at(record: dict[str, Any], name: str) -> Any:
    """The value at a dotted path (``meta.body``) of a record, or None."""
    value: Any = record
    for part in name.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def iter_records(path: Path) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """(line or row number, record) for each record of a file; a string in place of the
    record says why that line is not one (invalid JSON, not an object)."""
    if path.name.endswith(".parquet"):
        return _parquet_rows(path)
    return _jsonl_rows(path)


def _jsonl_rows(path: Path) -> Iterator[tuple[int, dict[str, Any] | str]]:
    with open_text(path) as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line.removeprefix("\ufeff") if lineno == 1 else line)
            except json.JSONDecodeError as e:
                yield lineno, f"invalid JSON: {e.msg}"
                continue
            except RecursionError:
                yield lineno, "invalid JSON: nested too deeply"
                continue
            yield lineno, record if isinstance(record, dict) else "not a JSON object"


def _parquet_rows(path: Path) -> Iterator[tuple[int, dict[str, Any] | str]]:
    row = 0
    for batch in pq.ParquetFile(path, pre_buffer=False).iter_batches(batch_size=8192):
        for record in batch.to_pylist():
            row += 1
            yield row, record
