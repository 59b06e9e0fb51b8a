"""`FirstRecords`: a shard whose first records are all unreadable in the same way fails.

A wrong ``--text-field`` or ``--tokenizer`` is not bad data: every record would be rejected
and copied into ``rejects/``. When each of a shard's first `FIRST_RECORDS` records (or all of
them, in a smaller shard) lacks a string at the text field, or holds a token id outside the
vocabulary, the shard fails with a message that names the keys it saw or the vocabulary.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa

from fastscan.filter.plan import open_decompressed
from fastscan.filter.schema import close_match

FIRST_RECORDS = 1000
# Reasons that say "the text is not where you said", and "the ids are not this vocabulary's".
NO_TEXT = frozenset({"missing_field", "not_a_string"})
NO_VOCABULARY = frozenset({"invalid_tokens"})


class FirstRecords:
    """Watches the reject reasons of a shard's first records; `explain(kind)` builds the
    message (``kind`` is ``"text"`` or ``"tokens"``) and the caller's error type is raised."""

    def __init__(
        self,
        explain: Callable[[str, int], str],
        error: type[Exception],
        limit: int = FIRST_RECORDS,
    ) -> None:
        self.explain = explain
        self.error = error
        self.limit = limit
        self.seen = 0
        self.no_text = 0
        self.no_vocabulary = 0

    def observe(self, reasons: pa.Array) -> None:
        """The reject reasons (string, null when read) of the next records in order."""
        take = min(len(reasons), self.limit - self.seen)
        if take <= 0:
            return
        for reason in reasons.slice(0, take).to_pylist():
            self.no_text += reason in NO_TEXT
            self.no_vocabulary += reason in NO_VOCABULARY
        self.seen += take
        if self.seen >= self.limit:
            self._verdict()

    def finish(self) -> None:
        """The shard ended: a shard with fewer records than the limit is judged on all."""
        if 0 < self.seen < self.limit:
            self._verdict()

    def _verdict(self) -> None:
        if self.no_text == self.seen:
            raise self.error(self.explain("text", self.seen))
        if self.no_vocabulary == self.seen:
            raise self.error(self.explain("tokens", self.seen))


def keys_seen(path: Path, field: str, lines: int = 20) -> list[str]:
    """The keys of a JSONL shard's first records at the level where `field`'s path breaks
    (``meta.x`` for a missing ``meta.body``), in order of appearance."""
    parts = field.split(".")
    seen: dict[str, None] = {}
    try:
        with open_decompressed(path) as stream:
            head = stream.read(1 << 20)
    except (OSError, pa.ArrowInvalid):
        return []
    for raw in head.split(b"\n")[:lines]:
        record = _json(raw)
        prefix: list[str] = []
        for part in parts:
            if not isinstance(record, dict):
                break
            if part not in record:
                seen.update(dict.fromkeys(".".join([*prefix, k]) for k in record))
                break
            prefix.append(part)
            record = record[part]
    return list(seen)


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None


def no_text_message(path: Path, field: str, records: int) -> str:
    """Why a JSONL shard failed: the text field is not in its records."""
    keys = keys_seen(path, field)
    return missing_text_field(
        field,
        f"the first {records:,}",
        keys,
        none="none (the lines are not JSON objects)",
        setting="--text-field / [scan] text_field",
    )


def missing_text_field(
    field: str,
    records: str,
    keys: list[str],
    *,
    seen: str = "keys seen",
    none: str = "none",
    setting: str = "--text-field",
) -> str:
    """The one message for records without a string at the text field, in every command:
    how many (`records`: ``the first 1,000``, ``its 12``), the keys (or columns) they have,
    and the closest of them to `field`."""
    shown = ", ".join(keys[:30]) if keys else none
    close = close_match(field, keys)
    hint = f" (did you mean {close!r}?)" if close else ""
    return (
        f"none of {records} records has a string at text field {field!r} "
        f"({seen}: {shown}); set {setting}{hint}"
    )
