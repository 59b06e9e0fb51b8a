"""`Scanner`: the compiled pack, applied to batches of documents in Rust."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

import pyarrow as pa

from fastscan import _fastscan
from fastscan.pack import PatternPack

PackSpec = str | os.PathLike[str] | PatternPack


class Scanner:
    """Scans documents for the patterns of a pack.

    Args:
        pack: a built-in pack name (default ``"tool-use"``), a path to a ``.toml``/``.json``
            pack, or a `PatternPack`.
        threads: threads for batch scans. ``None`` resolves, in order, ``FASTSCAN_THREADS``,
            ``OMP_NUM_THREADS``, then the CPUs this process may use.
        pattern_counts: also return a ``pattern_counts`` column with one count per pattern
            (ids as in ``scanner.pack.patterns``). Off by default: it costs time and memory.

    A scanner is compiled once and safe to share across threads. It pickles by its
    configuration, so Ray, Spark and Dask workers rebuild it (resolving ``threads=None``
    again in the worker's environment).
    """

    def __init__(
        self,
        pack: PackSpec = "tool-use",
        threads: int | None = None,
        *,
        pattern_counts: bool = False,
    ) -> None:
        self.pack = PatternPack.load(pack)
        self._threads_arg = threads
        self._inner = _fastscan.Scanner(
            self.pack.source,
            syntax=self.pack.syntax,
            threads=threads,
            pattern_counts=pattern_counts,
        )

    @property
    def threads(self) -> int:
        """The number of threads batch scans use."""
        return self._inner.threads[0]

    @property
    def thread_source(self) -> str:
        """Where `threads` came from: argument, FASTSCAN_THREADS, OMP_NUM_THREADS, affinity."""
        return self._inner.threads[1]

    @property
    def pattern_counts(self) -> bool:
        """Whether results carry a ``pattern_counts`` column."""
        return self._inner.pattern_counts

    @property
    def group_names(self) -> list[str]:
        """The group count columns, in order."""
        return self.pack.group_names

    def scan(self, texts: Any) -> pa.RecordBatch:
        """Scans a batch; returns one row per input.

        Args:
            texts: a ``list`` of ``str`` or ``bytes`` (mixed is fine), a pyarrow string /
                large_string / string_view / binary / large_binary / binary_view array (read
                in place through the Arrow PyCapsule interface, nulls scan as empty), a
                ``pyarrow.ChunkedArray`` of those, or any other iterable of ``str``/``bytes``.

        Returns:
            A ``pyarrow.RecordBatch`` with columns ``score`` (float64), one ``uint32`` count
            column per group, ``formats`` (list of detected format names) and, when enabled,
            ``pattern_counts``. The GIL is released for the whole batch.
        """
        return self._batch(texts, self._inner.scan_list, self._inner.scan_arrow)

    def stats(self, texts: Any) -> pa.RecordBatch:
        """Document statistics of a batch (the statistics stage), one row per input.

        Takes what `scan` takes. Columns (definitions in ``fastscan_core::stats`` and the
        README): ``chars``, ``words``, ``lines``, ``paragraphs``, ``stop_words`` (uint64), then
        float64 fractions: ``mean_word_length``, ``alpha_frac``, ``digit_frac``,
        ``punct_frac``, ``whitespace_frac``, ``upper_frac``, ``non_ascii_frac``,
        ``alpha_word_frac``, ``symbol_word_ratio``, ``ellipsis_word_ratio``,
        ``bullet_line_frac``, ``ellipsis_line_frac``, ``dup_line_frac``,
        ``dup_line_char_frac``, ``dup_para_frac``, ``dup_para_char_frac``,
        ``top_{2,3,4}gram_char_frac`` and ``dup_{5..10}gram_char_frac`` (the Gopher quality
        and repetition features). Runs on the scanner's threads; the GIL is released.
        """
        return self._batch(texts, self._inner.stats_list, self._inner.stats_arrow)

    def _batch(
        self,
        texts: Any,
        from_list: Callable[[list[Any]], pa.RecordBatch],
        from_arrow: Callable[[Any], pa.RecordBatch],
    ) -> pa.RecordBatch:
        if isinstance(texts, list):
            return from_list(texts)
        if isinstance(texts, pa.ChunkedArray):
            batches = [from_arrow(chunk) for chunk in texts.chunks]
            if not batches:
                return from_list([])
            table = pa.Table.from_batches(batches).combine_chunks()
            return table.to_batches()[0] if table.num_rows else batches[0]
        if hasattr(texts, "__arrow_c_array__"):
            return from_arrow(texts)
        if isinstance(texts, (str, bytes)):
            raise TypeError("pass a batch of texts; use scan_one() for a single text")
        if isinstance(texts, Iterable):
            return from_list(list(texts))
        raise TypeError(f"cannot scan {type(texts).__name__}: expected a list or Arrow array")

    def scan_one(self, text: str | bytes) -> dict[str, Any]:
        """Scans one document on the calling thread.

        Returns a dict with the same keys as a row of `scan`'s result.
        """
        return self._inner.scan_one(text)

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            _rebuild,
            (self.pack, self._threads_arg, self.pattern_counts),
        )

    def __repr__(self) -> str:
        return (
            f"<Scanner pack={self.pack.name!r} threads={self.threads} ({self.thread_source})"
            f" groups={self.group_names}>"
        )


def _rebuild(pack: PatternPack, threads: int | None, pattern_counts: bool) -> Scanner:
    return Scanner(pack, threads, pattern_counts=pattern_counts)


def resolve_threads(threads: int | None = None) -> tuple[int, str]:
    """The thread count a scanner built now would use, and where it came from."""
    return _fastscan.resolve_threads(threads)
