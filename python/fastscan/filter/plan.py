"""Finding the shards: files, directories (recursive) and globs, each with its format and the
relative path its outputs take."""

from __future__ import annotations

import glob
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

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


#: The largest Parquet row group read, in uncompressed bytes as the file's metadata states
#: them. A row group's column chunks are decoded whole, so reading one takes several times
#: its size in memory; a larger one fails its file with a message saying so, before reading.
MAX_ROW_GROUP_BYTES = 1 << 30


def read_parquet(handle: Any, path: Path) -> pq.ParquetFile:
    """A Parquet file opened for reading batch by batch (no pre-buffering), refused with a
    `ValueError` naming the file when it is not Parquet or a row group is larger than
    `MAX_ROW_GROUP_BYTES`: every command reads Parquet through here."""
    max_row_group_bytes = MAX_ROW_GROUP_BYTES
    try:
        source = pq.ParquetFile(handle, pre_buffer=False)
    except (pa.ArrowInvalid, OSError) as e:
        raise ValueError(f"{path}: not a readable Parquet file: {e}") from e
    meta = source.metadata
    for i in range(meta.num_row_groups):
        size = meta.row_group(i).total_byte_size
        if size > max_row_group_bytes:
            raise ValueError(
                f"{path}: row group {i} holds {size / 2**20:,.0f} MiB of data, more than the "
                f"{max_row_group_bytes / 2**20:,.0f} MiB read at once (a row group is decoded "
                "whole): rewrite the file with smaller row groups (pyarrow: "
                "pq.write_table(..., row_group_size=...))"
            )
    return source


#: The largest JSON document (not JSON lines) read whole: LMFlow files are 256 MB by default.
MAX_DOCUMENT_BYTES = 2 << 30


def json_document(path: Path) -> list[Any] | None:
    """The records of a ``.json`` file that holds one JSON document rather than JSON lines:
    an LMFlow dataset's ``instances`` (``{"type": ..., "instances": [...]}``, as fastscan's
    ``--output-format lmflow`` and ``extract --emit lmflow`` write them) or a JSON array's
    items. None for JSON lines (one value per line) and other suffixes; a `ValueError` for a
    document that is not such a list, or too large to read whole."""
    if not path.name.endswith(".json"):
        return None
    with open(path, "rb") as handle:
        head = handle.read(1 << 16)
    stripped = head.lstrip()
    if not stripped.startswith((b"{", b"[")):
        return None
    first = stripped.split(b"\n", 1)[0]
    try:
        json.loads(first)
        return None  # the first line is a whole value: JSON lines
    except ValueError:
        pass
    if path.stat().st_size > MAX_DOCUMENT_BYTES:
        raise ValueError(f"{path}: a JSON document over {MAX_DOCUMENT_BYTES >> 20:,} MiB")
    try:
        document = json.loads(path.read_bytes())
    except ValueError as e:
        raise ValueError(f"{path}: neither JSON lines nor one JSON document ({e})") from None
    if isinstance(document, dict) and isinstance(document.get("instances"), list):
        return list(document["instances"])
    if isinstance(document, list):
        return document
    raise ValueError(f"{path}: a JSON document with no records (no instances list)")


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


#: The file every fastscan command writes first into its output directory: it marks the
#: directory as a run's (never read as input) and names the command that owns it.
RUN_FILE = "run.json"


def run_record(path: Path) -> dict[str, Any] | None:
    """The run file of a directory a fastscan run wrote (``None`` for any other directory):
    a ``run.json`` holding a ``fastscan_version``."""
    try:
        with open(path / RUN_FILE, "rb") as handle:
            data = json.loads(handle.read(1 << 20))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and "fastscan_version" in data else None


def is_run_dir(path: Path) -> bool:
    """Whether `path` is a directory a fastscan run wrote."""
    return run_record(path) is not None


class _Rules:
    """What is never read as input: the run's own output directory (an input inside it is an
    error; a walk or glob that reaches it skips it) and any directory another fastscan run
    wrote below a named root (skipped, listed as ignored). A named root that is itself a
    run's directory is an error that says to name its ``kept/``."""

    def __init__(self, out: str | os.PathLike[str] | None) -> None:
        self.out = _normal(os.fspath(out)) if out is not None else None
        self.ignored: list[str] = []
        self.run_dirs: dict[Path, bool] = {}

    def inside_out(self, path: Path) -> bool:
        return self.out is not None and _normal(path).is_relative_to(self.out)

    def root(self, text: str, root: Path) -> None:
        """Refuses a named input (file, directory or a glob's fixed prefix) inside OUT or
        that is a run's directory."""
        if self.inside_out(root):
            raise PlanError(
                f"input {text} lies inside the output directory {self.out}: a run never "
                "reads (or replaces) its own outputs; choose an output directory outside "
                "the inputs"
            )
        if root.is_dir() and is_run_dir(root):
            raise PlanError(
                f"input {text} is a fastscan run's output directory, which is never read as "
                f"input; name the records you want (e.g. {Path(text) / 'kept'})"
            )

    def skipped_dir(self, path: Path) -> bool:
        """A directory below a root that a walk does not enter (listed as ignored)."""
        if self.inside_out(path):
            return True
        key = _normal(path)
        if key not in self.run_dirs:
            self.run_dirs[key] = is_run_dir(path)
            if self.run_dirs[key]:
                self.ignored.append(f"{path} (a fastscan run's outputs: not read as input)")
        return self.run_dirs[key]

    def skipped_match(self, match: Path, root: Path) -> bool:
        """Whether a glob's match lies in OUT or in a run's directory below the glob's root."""
        if self.inside_out(match):
            return True
        full = _normal(match)
        return any(self.skipped_dir(parent) for parent in full.parents if parent != root
                   and parent.is_relative_to(root))  # fmt: skip


def plan(
    inputs: Sequence[str | os.PathLike[str]], out: str | os.PathLike[str] | None = None
) -> tuple[list[Shard], list[str]]:
    """The shards to read, sorted by relative path, and the files a directory walk ignored.

    A file named directly with an extension fastscan does not read is a `PlanError`; one
    matched by a glob is a shard all the same (it then fails on its own with a clear error).
    Inside a directory, only files with
    a known extension are shards; hidden files and ``_``-prefixed ones are skipped, and the
    others are listed as ignored. Relative paths are taken from the directory (or the glob's
    fixed prefix) so outputs mirror the input layout; ``..`` segments are resolved first, so a
    relative path never climbs out of the output directory.

    `out` (the run's output directory) is never read: an input named inside it is a
    `PlanError` (so ``--overwrite`` can never delete an input), and walks and globs that reach
    it skip it. Directories other fastscan runs wrote (their ``run.json``) are skipped by walks
    and globs alike; naming one as an input is an error. Symbolic links to directories are not
    followed and are listed as ignored.
    """
    shards: dict[str, Shard] = {}
    rules = _Rules(out)
    ignored = rules.ignored

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
            root = Path(text.split("*")[0].split("?")[0].split("[")[0])
            root = _normal(root if text.endswith(os.sep) or root.is_dir() else root.parent)
            rules.root(text, root)
            matches = sorted(glob.glob(text, recursive=True))
            if not matches:
                raise PlanError(f"no file matches {text!r}")
            for match in matches:
                m = Path(match)
                if not m.is_file() or rules.skipped_match(m, root):
                    continue
                full = _normal(m)
                add(
                    _shard(m, full.relative_to(root) if full.is_relative_to(root) else Path(m.name))
                )
        elif path.is_dir():
            rules.root(text, path)
            for dirpath, dirnames, filenames in os.walk(path):
                for name in list(dirnames):
                    sub = Path(dirpath) / name
                    if sub.is_symlink():
                        ignored.append(f"{sub} (a symbolic link to a directory: not followed)")
                        dirnames.remove(name)
                    elif rules.skipped_dir(sub):
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
            rules.root(text, path)
            if format_of(path) is None:
                raise PlanError(
                    f"{text}: not a file fastscan reads (.jsonl, .jsonl.gz, .jsonl.zst, .json, "
                    ".json.gz, .json.zst or .parquet); rename it or name its directory"
                )
            add(_shard(path, Path(path.name)))
        else:
            raise PlanError(f"input not found: {text}")
    if not shards:
        skipped = [i for i in ignored if "fastscan run" in i]
        why = f"; skipped: {', '.join(skipped[:3])}" if skipped else ""
        raise PlanError(f"no shards to read (no .jsonl[.gz|.zst], .json or .parquet files){why}")
    named = {str(s.path) for s in shards.values()}
    return [shards[k] for k in sorted(shards)], [i for i in ignored if i not in named]


def check_outputs(
    claims: Iterable[tuple[Shard, Iterable[str]]], reserved: Iterable[str] = ()
) -> None:
    """Refuses (`PlanError`) a map of inputs to output paths (relative to OUT) in which two
    inputs claim one path, an input claims a path the run keeps for itself (`reserved`), or
    one output would have to be both a file and a directory. Every command that writes an
    output per input calls this with its whole map before it writes anything."""
    owner: dict[str, str] = {name: "the run itself" for name in reserved}
    for shard, paths in claims:
        for raw in paths:
            path = PurePosixPath(raw).as_posix()
            other = owner.get(path)
            if other is not None and other != str(shard.path):
                raise PlanError(
                    f"two outputs on one path: {other} and {shard.path} would both be "
                    f"written to {path}; rename one input or run them separately"
                )
            owner[path] = str(shard.path)
    for path, who in owner.items():
        for parent in PurePosixPath(path).parents:
            other = owner.get(parent.as_posix())
            if other is not None:
                raise PlanError(
                    f"{parent} would be written both as a file (for {other}) and as a "
                    f"directory (for {who}); rename one input or run them separately"
                )
