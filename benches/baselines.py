"""What fastscan is measured against: the machine's limits and the peers, as callables.

Each `*_baseline(...)` prepares its tool (compiling patterns, loading filters) outside the
timing and returns a function that does the measured work once. A peer that is not installed
raises `PeerMissingError`, so a table can say so instead of failing. The peers are in the
`bench` extra.

Packs with folded groups (the built-in one) match those patterns on the folded view of each
text. The pattern peers get that view for free: it is computed with `fastscan.fold` while the
peer is prepared, outside the timing, and the folded patterns run on it (the row's note says
so). Their match semantics otherwise stay their own.
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


VIEWS = ("raw", "folded")


def _text(p: fastscan.PatternInfo) -> str:
    """A pattern as the peers take it: literals as searched in their view (folded literals
    folded), regexes with the ASCII word boundary spelled the way `re` and Hyperscan read it."""
    if p.kind == "literal":
        return fastscan.fold(p.text) if p.view == "folded" else p.text
    return p.text.replace("(?-u:\\b)", "\\b")


def _literals(pack: fastscan.PatternPack, view: str = "raw") -> list[str]:
    return sorted({_text(p) for p in pack.patterns if p.kind == "literal" and p.view == view})


def _views(pack: fastscan.PatternPack, texts: list[str]) -> dict[str, list[str]]:
    """The texts in each view the pack's patterns use (folding is not timed: see above)."""
    used = {p.view for p in pack.patterns}
    return {v: (texts if v == "raw" else [fastscan.fold(t) for t in texts]) for v in used}


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
        source = re.escape(_text(p)) if p.kind == "literal" else _text(p)
        flags = 0 if p.case_sensitive else re.IGNORECASE
        compiled.append((p.view, re.compile(source, flags)))
    views = _views(pack, texts)

    def run() -> None:
        for i in range(len(texts)):
            for view, rx in compiled:
                sum(1 for _ in rx.finditer(views[view][i]))

    return run


def ahocorasick_rs_baseline(pack: fastscan.PatternPack, texts: list[str]) -> Work:
    """ahocorasick_rs over the literals, overlapping matches, one call per text."""
    try:
        import ahocorasick_rs
    except ImportError as e:
        raise PeerMissingError("ahocorasick_rs") from e
    views = _views(pack, texts)
    automata = [
        (ahocorasick_rs.AhoCorasick(_literals(pack, v)), views[v])
        for v in views
        if _literals(pack, v)
    ]

    def run() -> None:
        for ac, view_texts in automata:
            for text in view_texts:
                ac.find_matches_as_indexes(text, overlapping=True)

    return run


def pyahocorasick_baseline(pack: fastscan.PatternPack, texts: list[str]) -> Work:
    """pyahocorasick over the literals: every (overlapping) match, counted per pattern."""
    try:
        import ahocorasick
    except ImportError as e:
        raise PeerMissingError("pyahocorasick") from e
    views = _views(pack, texts)
    automata = []
    for view in views:
        automaton = ahocorasick.Automaton()
        for i, lit in enumerate(_literals(pack, view)):
            automaton.add_word(lit, i)
        if len(automaton):
            automaton.make_automaton()
            automata.append((automaton, views[view]))

    def run() -> None:
        for automaton, view_texts in automata:
            for text in view_texts:
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
    views = _views(pack, texts)
    databases = []
    compiled = 0
    for view in views:
        sources, flags = [], []
        for p in (p for p in pack.patterns if p.view == view):
            source = re.escape(_text(p)) if p.kind == "literal" else _text(p)
            flag = 0 if p.case_sensitive else hyperscan.HS_FLAG_CASELESS
            try:  # compile alone first: keep only what Hyperscan takes
                hyperscan.Database().compile(expressions=[source.encode()], flags=[flag])
            except hyperscan.error:
                continue
            sources.append(source.encode())
            flags.append(flag)
        if sources:
            db = hyperscan.Database()
            db.compile(expressions=sources, ids=list(range(len(sources))), flags=flags)
            databases.append((db, [t.encode() for t in views[view]]))
            compiled += len(sources)
    counts = [0] * len(pack.patterns)

    def on_match(pid: int, start: int, end: int, flags: int, context: object) -> None:
        counts[pid] += 1

    def run() -> None:
        for db, data in databases:
            for d in data:
                db.scan(d, match_event_handler=on_match)

    return run, compiled


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
