"""What fastscan is measured against: the machine's limits and the peers, as callables.

Each `*_baseline(...)` prepares its tool (compiling patterns, loading filters) outside the
timing and returns a function that does the measured work once. A peer that is not installed
raises `PeerMissingError`, so a table can say so instead of failing. The peers are in the
`bench` extra.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np

import fastscan

Work = Callable[[], object]


class PeerMissingError(RuntimeError):
    """A peer that is not installed (or does not load): the table reports it as skipped."""


def _literals(pack: fastscan.PatternPack) -> list[str]:
    return sorted({p.text for p in pack.patterns if p.kind == "literal"})


# -- machine limits ---------------------------------------------------------------------------


def memory_read(megabytes: int = 1024) -> tuple[int, Work]:
    """(bytes, work): one thread summing a buffer of 64-bit words that no cache holds."""
    words = np.ones(megabytes * 2**20 // 8, dtype=np.uint64)
    return words.nbytes, lambda: int(words.sum())


def page_cache_read(path: Path, block: int = 8 << 20) -> tuple[int, Work]:
    """(bytes, work): reading `path` into one reused buffer, after a read that caches it."""
    buf = bytearray(block)
    view = memoryview(buf)

    def read() -> int:
        total = 0
        with open(path, "rb", buffering=0) as f:
            while n := f.readinto(view):
                total += n
        return total

    read()
    return path.stat().st_size, read


# -- stage-1 peers: the same literals (and regexes where the tool takes them) ---------------


def re_baseline(pack: fastscan.PatternPack, texts: list[str]) -> Work:
    """Python `re`: one compiled pattern per pack pattern, one pass each over every text."""
    compiled = []
    for p in pack.patterns:
        source = re.escape(p.text) if p.kind == "literal" else p.text
        compiled.append(re.compile(source, 0 if p.case_sensitive else re.IGNORECASE))

    def run() -> None:
        for text in texts:
            for rx in compiled:
                sum(1 for _ in rx.finditer(text))

    return run


def ahocorasick_rs_baseline(pack: fastscan.PatternPack, texts: list[str]) -> Work:
    """ahocorasick_rs over the literals, overlapping matches, one call per text."""
    try:
        import ahocorasick_rs
    except ImportError as e:
        raise PeerMissingError("ahocorasick_rs") from e
    ac = ahocorasick_rs.AhoCorasick(_literals(pack))

    def run() -> None:
        for text in texts:
            ac.find_matches_as_indexes(text, overlapping=True)

    return run


def pyahocorasick_baseline(pack: fastscan.PatternPack, texts: list[str]) -> Work:
    """pyahocorasick over the literals: every (overlapping) match, counted per pattern."""
    try:
        import ahocorasick
    except ImportError as e:
        raise PeerMissingError("pyahocorasick") from e
    automaton = ahocorasick.Automaton()
    for i, lit in enumerate(_literals(pack)):
        automaton.add_word(lit, i)
    automaton.make_automaton()

    def run() -> None:
        for text in texts:
            counts = [0] * len(automaton)
            for _, i in automaton.iter(text):
                counts[i] += 1

    return run


def hyperscan_baseline(pack: fastscan.PatternPack, texts: list[str]) -> tuple[Work, int]:
    """(work, patterns compiled): Hyperscan block mode, literals and regexes in one database,
    one scan per text, every match reported to a counting callback. Hyperscan reports each
    match end (not leftmost non-overlapping regex matches), so its counts differ for regexes;
    the work is the same kind. Regexes Hyperscan cannot compile are left out (counted)."""
    try:
        import hyperscan
    except ImportError as e:
        raise PeerMissingError("hyperscan") from e
    sources, flags = [], []
    for p in pack.patterns:
        source = re.escape(p.text) if p.kind == "literal" else p.text
        flag = 0 if p.case_sensitive else hyperscan.HS_FLAG_CASELESS
        try:  # compile alone first: keep only what Hyperscan takes
            hyperscan.Database().compile(expressions=[source.encode()], flags=[flag])
        except hyperscan.error:
            continue
        sources.append(source.encode())
        flags.append(flag)
    db = hyperscan.Database()
    db.compile(expressions=sources, ids=list(range(len(sources))), flags=flags)
    data = [t.encode() for t in texts]
    counts = [0] * len(sources)

    def on_match(pid: int, start: int, end: int, flags: int, context: object) -> None:
        counts[pid] += 1

    def run() -> None:
        for d in data:
            db.scan(d, match_event_handler=on_match)

    return run, len(sources)


# -- other stages' peers ------------------------------------------------------------------------


def orjson_baseline(lines: list[bytes]) -> Work:
    """orjson parsing every JSONL line (nothing else)."""
    try:
        import orjson
    except ImportError as e:
        raise PeerMissingError("orjson") from e

    def run() -> None:
        for line in lines:
            orjson.loads(line)

    return run


def datatrove_baseline(texts: list[str]) -> Work:
    """datatrove's Gopher quality and repetition filters, both run on every text."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        from datatrove.data import Document
        from datatrove.pipeline.filters import GopherQualityFilter, GopherRepetitionFilter
    except ImportError as e:
        raise PeerMissingError("datatrove") from e
    quality, repetition = GopherQualityFilter(), GopherRepetitionFilter()
    docs = [Document(text=t, id=str(i)) for i, t in enumerate(texts)]
    try:  # loads the word tokenizer (spaCy's blank English): fails here, not in the timing
        quality.filter(docs[0])
    except ImportError as e:
        raise PeerMissingError(f"datatrove ({e})") from e

    def run() -> None:
        for doc in docs:
            quality.filter(doc)
            repetition.filter(doc)

    return run
