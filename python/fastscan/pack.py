"""Pattern packs: load, validate and describe the data a `Scanner` is compiled from.

A pack is TOML (or the same structure as a dict / JSON). Validation happens in the Rust core,
so a `PatternPack` that exists is one a scanner can compile; every problem raises
`fastscan.PackError` naming the group, the pattern and the reason.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from importlib import resources
from typing import Any, Literal

from fastscan import _fastscan
from fastscan._fastscan import PackError

Syntax = Literal["toml", "json"]


@dataclass(frozen=True)
class GroupInfo:
    """A group of a pack: one count column of the scan result."""

    name: str
    description: str
    weight: float
    min_hits: int
    case_sensitive: bool
    view: Literal["raw", "folded"] = "raw"
    support: bool = False


@dataclass(frozen=True)
class FormatInfo:
    """A named sub-family of a group (a tool-call format), reported per document."""

    name: str
    description: str
    group: str
    min_hits: int


@dataclass(frozen=True)
class PatternInfo:
    """One literal or regex; `id` is its index in `pattern_counts`."""

    id: int
    group: str
    format: str | None
    kind: Literal["literal", "regex"]
    text: str
    case_sensitive: bool
    view: Literal["raw", "folded"] = "raw"


def builtin_packs() -> list[str]:
    """Names of the packs that ship with fastscan."""
    root = resources.files("fastscan") / "packs"
    return sorted(p.name[: -len(".toml")] for p in root.iterdir() if p.name.endswith(".toml"))


class PatternPack:
    """A validated pattern pack.

    Build one with `PatternPack.builtin("tool-use")`, `PatternPack.from_file(path)`,
    `PatternPack.from_toml(text)` or `PatternPack.from_dict(data)`; `PatternPack.load(spec)`
    takes any of a built-in name, a path or a pack.
    """

    def __init__(self, source: str, syntax: Syntax = "toml", origin: str | None = None) -> None:
        info = _fastscan.parse_pack(source, syntax)
        self.source = source
        self.syntax: Syntax = syntax
        self.origin = origin
        meta = info["meta"]
        self.name: str = meta["name"]
        self.version: str = meta["version"]
        self.description: str = meta["description"]
        self.groups = [GroupInfo(**g) for g in info["groups"]]
        self.formats = [FormatInfo(**f) for f in info["formats"]]
        self.patterns = [PatternInfo(id=i, **p) for i, p in enumerate(info["patterns"])]

    @classmethod
    def builtin(cls, name: str) -> PatternPack:
        """A pack that ships with fastscan (see `builtin_packs()`)."""
        resource = resources.files("fastscan") / "packs" / f"{name}.toml"
        if not resource.is_file():
            known = ", ".join(builtin_packs())
            raise ValueError(f"no built-in pack {name!r} (built-in packs: {known})")
        return cls(resource.read_text(encoding="utf-8"), "toml", origin=f"builtin:{name}")

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> PatternPack:
        """A pack from a `.toml` or `.json` file."""
        path = os.fspath(path)
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except UnicodeDecodeError as e:
            reason = f"pack file {path} is not UTF-8 text ({e.reason} at byte {e.start})"
            error = PackError(reason)
            error.group, error.pattern, error.reason = None, None, reason
            raise error from None
        syntax: Syntax = "json" if path.endswith(".json") else "toml"
        return cls(text, syntax, origin=path)

    @classmethod
    def from_toml(cls, text: str) -> PatternPack:
        """A pack from TOML text."""
        return cls(text, "toml")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PatternPack:
        """A pack from a dict with the TOML structure (`{"group": [{"name": ..., ...}]}`)."""
        return cls(json.dumps(data), "json")

    @classmethod
    def load(cls, spec: str | os.PathLike[str] | PatternPack) -> PatternPack:
        """A pack from a built-in name, a file path, or a pack (returned as is)."""
        if isinstance(spec, PatternPack):
            return spec
        text = os.fspath(spec)
        if text in builtin_packs():
            return cls.builtin(text)
        if os.path.exists(text):
            return cls.from_file(text)
        known = ", ".join(builtin_packs())
        raise ValueError(f"{text!r} is neither a built-in pack ({known}) nor an existing file")

    @property
    def group_names(self) -> list[str]:
        """Group names, in column order."""
        return [g.name for g in self.groups]

    @property
    def format_names(self) -> list[str]:
        """Format names, in pack order."""
        return [f.name for f in self.formats]

    def __reduce__(self) -> tuple[Any, ...]:
        return (PatternPack, (self.source, self.syntax, self.origin))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PatternPack):
            return NotImplemented
        return (self.source, self.syntax) == (other.source, other.syntax)

    def __hash__(self) -> int:
        return hash((self.source, self.syntax))

    def __repr__(self) -> str:
        where = f" from {self.origin}" if self.origin else ""
        return (
            f"<PatternPack {self.name or '(unnamed)'}{where}: {len(self.groups)} groups, "
            f"{len(self.formats)} formats, {len(self.patterns)} patterns>"
        )
