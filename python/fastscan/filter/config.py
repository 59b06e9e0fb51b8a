"""`FilterConfig`: what a `fastscan-filter` run does, from flags or a ``cascade.toml``.

A config file groups the same settings the flags set::

    [scan]
    pack = "tool-use"          # a built-in pack name or a path to a pack file
    text_field = "text"        # JSONL key or Parquet column; dots reach nested fields
    tokens_field = "tokens"    # Parquet column of token ids (ClimbLab style)
    tokenizer = "gpt2/tokenizer.json"

    [keep]
    min_score = 2.0
    require = ["tool_call"]

    [output]
    format = "auto"            # auto (same as the input) | jsonl | parquet | lmflow
    compression = "zstd"       # kept JSONL: none | gzip | zstd (default: as the input)
    lmflow_shard_mb = 256

    [read]
    block_mb = 8
    max_record_mb = 64

Relative paths in a config file are relative to the file. Flags given on the command line
override the file.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastscan.pack import PatternPack

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

OUTPUT_FORMATS = ("auto", "jsonl", "parquet", "lmflow")
COMPRESSIONS = ("none", "gzip", "zstd")

# The default threshold: on ../shared/data/labeled with the tool-use pack, score >= 2 keeps
# 96.5% of positives and none of 6,596 negatives (see the README's quality table).
DEFAULT_MIN_SCORE = 2.0


class ConfigError(ValueError):
    """A setting that cannot work (unknown key, bad value, missing file)."""


@dataclass(frozen=True)
class FilterConfig:
    """Every setting of a filter run. Build with keywords, `from_toml`, or `with_overrides`."""

    pack: str = "tool-use"
    min_score: float = DEFAULT_MIN_SCORE
    require: tuple[str, ...] = ()
    text_field: str = "text"
    tokens_field: str = "tokens"
    tokenizer: str | None = None
    output_format: str = "auto"
    output_compression: str | None = None
    lmflow_shard_mb: int = 256
    block_mb: int = 8
    max_record_mb: int = 64

    def __post_init__(self) -> None:
        if self.output_format not in OUTPUT_FORMATS:
            raise ConfigError(
                f"output format must be one of {', '.join(OUTPUT_FORMATS)}, "
                f"not {self.output_format!r}"
            )
        if self.output_compression is not None and self.output_compression not in COMPRESSIONS:
            raise ConfigError(
                f"output compression must be one of {', '.join(COMPRESSIONS)}, "
                f"not {self.output_compression!r}"
            )
        for name in ("lmflow_shard_mb", "block_mb", "max_record_mb"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1")
        if self.tokenizer is not None and not Path(self.tokenizer).is_file():
            raise ConfigError(f"tokenizer file not found: {self.tokenizer}")

    @classmethod
    def from_toml(cls, path: str | os.PathLike[str]) -> FilterConfig:
        """Reads a ``cascade.toml``; unknown sections or keys are an error."""
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as e:
            raise ConfigError(f"cannot read config {path}: {e.strerror}") from e
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"config {path} is not valid TOML: {e}") from e
        keys = {
            "scan": {"pack", "text_field", "tokens_field", "tokenizer"},
            "keep": {"min_score", "require"},
            "output": {"format", "compression", "lmflow_shard_mb"},
            "read": {"block_mb", "max_record_mb"},
        }
        values: dict[str, Any] = {}
        for section, table in data.items():
            if section not in keys or not isinstance(table, dict):
                raise ConfigError(
                    f"config {path}: unknown section [{section}] (known: {', '.join(keys)})"
                )
            for key, value in table.items():
                if key not in keys[section]:
                    raise ConfigError(f"config {path}: unknown key {section}.{key}")
                renamed = {"format": "output_format", "compression": "output_compression"}
                name = str(renamed.get(key, key))
                values[name] = value
        for key in ("pack", "tokenizer"):
            value = values.get(key)
            if isinstance(value, str) and (Path(value).suffix in (".toml", ".json")):
                values[key] = str(path.parent / value)
        if "require" in values:
            values["require"] = tuple(values["require"])
        try:
            return cls(**values)
        except TypeError as e:
            raise ConfigError(f"config {path}: {e}") from e

    def with_overrides(self, **changes: Any) -> FilterConfig:
        """A copy with the given settings replaced (``None`` values are ignored)."""
        given = {k: v for k, v in changes.items() if v is not None}
        return dataclasses.replace(self, **given)

    @functools.cached_property
    def _pack(self) -> PatternPack:
        return PatternPack.load(self.pack)

    def load_pack(self) -> PatternPack:
        """The pack, loaded once per config."""
        return self._pack

    def fingerprint(self) -> dict[str, Any]:
        """What decides the outputs: a rerun into the same directory must match it."""
        settings = {
            f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "block_mb"
        }
        settings["require"] = list(self.require)
        pack = self.load_pack()
        settings["pack_sha256"] = hashlib.sha256(pack.source.encode()).hexdigest()
        if self.tokenizer is not None:
            settings["tokenizer_sha256"] = hashlib.sha256(
                Path(self.tokenizer).read_bytes()
            ).hexdigest()
        return settings
