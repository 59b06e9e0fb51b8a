"""Finding the shards: files, directories (recursive) and globs, each with its format and the
relative path its outputs take."""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

# Longest suffix first: what a file name must end with to be read, and as what.
FORMATS = (
    (".jsonl.gz", "jsonl"),
    (".jsonl.zst", "jsonl"),
    (".jsonl.zstd", "jsonl"),
    (".json.gz", "jsonl"),
    (".json.zst", "jsonl"),
    (".jsonl", "jsonl"),
    (".json", "jsonl"),
    (".parquet", "parquet"),
)


class PlanError(ValueError):
    """An input that names nothing (a missing path, a glob with no match)."""


@dataclass(frozen=True)
class Shard:
    """One input file. `format` is None when the extension is not one fastscan reads."""

    path: Path
    relative: str
    format: str | None
    size: int

    @property
    def suffix(self) -> str:
        """The recognised suffix (``.jsonl.zst``), or the last extension when unknown."""
        name = self.path.name
        for suffix, _ in FORMATS:
            if name.endswith(suffix):
                return suffix
        return self.path.suffix


def format_of(path: Path) -> str | None:
    """``jsonl``, ``parquet`` or None, from the file name."""
    name = path.name
    for suffix, fmt in FORMATS:
        if name.endswith(suffix):
            return fmt
    return None


def compression_of(name: str) -> str:
    """``gzip``, ``zstd`` or ``none``, from a file name's suffix: the one place Python decides
    it (the core's `Compression::from_path` reads the same suffixes)."""
    if name.endswith(".gz"):
        return "gzip"
    if name.endswith((".zst", ".zstd")):
        return "zstd"
    return "none"


def open_decompressed(path: Path) -> pa.NativeFile:
    """A JSONL input's decompressed bytes (compression by suffix). Opened by Python, so a
    file name that is not UTF-8 works too (pyarrow's own paths must be UTF-8)."""
    compression = compression_of(path.name)
    return pa.input_stream(
        pa.PythonFile(open(path, "rb"), mode="r"),
        compression=None if compression == "none" else compression,
    )


def _hidden(relative: Path) -> bool:
    return any(part.startswith((".", "_")) for part in relative.parts)


def _shard(path: Path, relative: Path) -> Shard:
    try:
        size = path.stat().st_size
    except OSError:
        size = 0
    return Shard(path=path, relative=relative.as_posix(), format=format_of(path), size=size)


def _normal(path: Path | str) -> Path:
    """Absolute, with ``..`` and ``.`` resolved lexically (symlinks left as they are)."""
    return Path(os.path.normpath(os.path.abspath(path)))


def _is_output_dir(path: Path) -> bool:
    """A directory a fastscan run wrote (its ``run.json`` beside the ``_done`` markers)."""
    return (path / "run.json").is_file() and (path / "_done").is_dir()


def plan(
    inputs: Sequence[str | os.PathLike[str]], exclude: Sequence[str | os.PathLike[str]] = ()
) -> tuple[list[Shard], list[str]]:
    """The shards to read, sorted by relative path, and the files a directory walk ignored.

    A file named directly (or matched by a glob) is always a shard, even with an unknown
    extension: it then fails on its own with a clear error. Inside a directory, only files with
    a known extension are shards; hidden files and ``_``-prefixed ones are skipped, and the
    others are listed as ignored. Relative paths are taken from the directory (or the glob's
    fixed prefix) so outputs mirror the input layout; ``..`` segments are resolved first, so a
    relative path never climbs out of the output directory.

    Directories in `exclude` (the run's output directory) and any directory a fastscan run
    wrote are never read as input; symbolic links to directories are not followed and are
    listed as ignored.
    """
    shards: dict[str, Shard] = {}
    ignored: list[str] = []
    excluded = {_normal(os.fspath(e)) for e in exclude}

    def skipped_dir(path: Path) -> bool:
        return _normal(path) in excluded or _is_output_dir(path)

    def add(shard: Shard) -> None:
        other = shards.get(shard.relative)
        if other is not None and other.path.resolve() != shard.path.resolve():
            raise PlanError(
                f"two inputs map to the same output path {shard.relative!r}: "
                f"{other.path} and {shard.path}"
            )
        shards[shard.relative] = shard

    for raw in inputs:
        text = os.fspath(raw)
        path = Path(text)
        if glob.has_magic(text):
            matches = sorted(glob.glob(text, recursive=True))
            if not matches:
                raise PlanError(f"no file matches {text!r}")
            root = Path(text.split("*")[0].split("?")[0].split("[")[0])
            root = _normal(root if text.endswith(os.sep) or root.is_dir() else root.parent)
            for match in matches:
                m = Path(match)
                if not m.is_file() or any(_normal(m).is_relative_to(e) for e in excluded):
                    continue
                full = _normal(m)
                add(
                    _shard(m, full.relative_to(root) if full.is_relative_to(root) else Path(m.name))
                )
        elif path.is_dir():
            for dirpath, dirnames, filenames in os.walk(path):
                for name in list(dirnames):
                    sub = Path(dirpath) / name
                    if sub.is_symlink():
                        ignored.append(f"{sub} (a symbolic link to a directory: not followed)")
                        dirnames.remove(name)
                    elif skipped_dir(sub):
                        dirnames.remove(name)
                dirnames.sort()
                for name in sorted(filenames):
                    full = Path(dirpath) / name
                    rel = full.relative_to(path)
                    if _hidden(rel):
                        continue
                    if format_of(full) is None:
                        ignored.append(str(full))
                        continue
                    add(_shard(full, rel))
        elif path.exists() or path.is_symlink():
            add(_shard(path, Path(path.name)))
        else:
            raise PlanError(f"input not found: {text}")
    if not shards:
        raise PlanError("no shards to read (no .jsonl[.gz|.zst], .json or .parquet files)")
    named = {str(s.path) for s in shards.values()}
    return [shards[k] for k in sorted(shards)], [i for i in ignored if i not in named]
