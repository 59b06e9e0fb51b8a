"""report.html v2: what it shows (parsed), and that a real browser renders it (headless
Chromium from Debian's packages: a screenshot and the rendered DOM)."""

from __future__ import annotations

import json
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

import fastscan
from requires import unavailable
from shards import (
    jsonl_bytes,
    many_records,
    read_decompressed,
    sample_records,
    write_jsonl,
    write_parquet,
)


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.tags: dict[str, int] = {}
        self.classes: list[str] = []
        self.text: list[str] = []
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] = self.tags.get(tag, 0) + 1
        for name, value in attrs:
            if name == "id" and value:
                self.ids.append(value)
            if name == "class" and value:
                self.classes.extend(value.split())
            if name in ("src", "href") and value:
                self.urls.append(value)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("report")
    records = sample_records() + many_records(120)
    call = '<tool_call>{"name": "f", "arguments": {}}</tool_call>'
    hostile = {"id": "x", "text": f"<script>alert(1)</script> {call}"}
    write_jsonl(root / "in/a.jsonl.zst", jsonl_bytes([hostile, *records]))
    write_parquet(root / "in/b.parquet", records)
    # Mostly unreadable lines: a high reject rate, flagged at the top.
    write_jsonl(root / "in/bad.jsonl", b'{"text": "ok"}\n' + b"not json\n" * 9)
    write_jsonl(root / "in/broken.parquet", b"not parquet")
    fastscan.filter_shards(root / "in", root / "out", stats={"min": {"words": 5}})
    return root / "out"


def test_report_html_has_every_section(run: Path) -> None:
    page = _Page()
    page.feed((run / "report.html").read_text(encoding="utf-8"))
    report = json.loads((run / "report.json").read_text(encoding="utf-8"))
    text = "".join(page.text)
    for section in ("alerts", "summary", "funnel", "distributions", "groups", "formats",
                    "patterns", "samples", "shards", "config"):  # fmt: skip
        assert section in page.ids
    # Flagged at the top: the failed shard and the one that rejected 90% of its lines.
    assert "failed broken.parquet" in text
    assert "90% rejected bad.jsonl" in text
    assert page.classes.count("flag") == 2
    # One histogram per scored stage, split kept / dropped, the threshold marked.
    assert page.tags["svg"] == 1 == len(report["distributions"])  # patterns (stats: no score)
    assert "threshold 2" in text
    assert report["distributions"]["patterns"]["kept"][4:] != [0] * 57  # scores >= 2 kept
    assert sum(report["distributions"]["patterns"]["dropped"][4:]) == 0
    # Hits among kept and read; samples escaped; no script, no network.
    assert (
        report["totals"]["kept_group_hits"]["tool_call"]
        <= report["totals"]["group_hits"]["tool_call"]
    )
    assert page.tags.get("script", 0) == 0
    assert not [u for u in page.urls if "//" in u]
    assert "<script>alert(1)</script>" in text  # shown as text, not run
    assert report["samples"]["documents"] > 0
    assert report["run"]["inputs"] == [str(run.parent / "in")]
    assert report["fastscan_version"] in text


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def test_report_renders_in_headless_chromium(run: Path, tmp_path: Path) -> None:
    browser = _chromium()
    if browser is None:
        unavailable(
            "no chromium (apt-get install chromium); CI installs it", "FASTSCAN_REQUIRE_BROWSER"
        )
    flags = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    url = (run / "report.html").as_uri()
    dom = subprocess.run(
        [*flags, "--dump-dom", url], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    page = _Page()
    page.feed(dom)
    assert "distributions" in page.ids
    assert page.tags.get("script", 0) == 0
    shot = run / "report.png"
    subprocess.run(
        [*flags, "--window-size=1200,2400", f"--screenshot={shot}", url],
        capture_output=True,
        timeout=120,
        check=True,
        cwd=tmp_path,
    )
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 50_000  # a rendered page, not a blank one
    print(f"screenshot: {shot}")


def test_samples_match_a_record_by_record_reading(run: Path) -> None:
    """The report's samples (counted in Arrow and numpy) equal a plain loop over the same
    head documents: per pattern the documents it hits (read, and kept among them); per group
    the first kept documents reaching it and the closest dropped ones."""
    report = json.loads((run / "report.json").read_text(encoding="utf-8"))
    samples = report["samples"]
    pack = fastscan.FilterConfig().load_pack()
    min_hits = {g.name: max(g.min_hits, 1) for g in pack.groups}
    scanner = fastscan.Scanner(pack, threads=1, pattern_counts=True)
    docs: list[tuple[str, dict[str, Any], str]] = []  # (text, scores row, shard)
    shards = {e["relative"]: e for e in report["shards"]}
    for relative in samples["shards"]:
        entry = shards[relative]
        rows = pq.read_table(run / entry["outputs"]["scores"]).to_pylist()
        if entry["format"] == "jsonl":
            lines = read_decompressed(Path(entry["path"])).splitlines()
            texts = [
                json.loads(lines[r["row"]])["text"] for r in rows if r["reject_reason"] is None
            ]
        else:
            texts = pq.read_table(entry["path"]).column("text").to_pylist()
        rows = [r for r in rows if r["reject_reason"] is None]
        docs += [(t, r, relative) for t, r in zip(texts, rows, strict=True)]
    assert samples["documents"] == len(docs) > 0
    read: dict[str, int] = {}
    kept: dict[str, int] = {}
    names = [
        f"{p.group}{'/' + p.format if p.format else ''} {p.kind}: {p.text[:60]}"
        for p in pack.patterns
    ]
    for (_, row, _), counts in zip(
        docs,
        scanner.scan([t for t, _, _ in docs]).column("pattern_counts").to_pylist(),
        strict=True,
    ):
        for name, count in zip(names, counts, strict=True):
            if count:
                read[name] = read.get(name, 0) + 1
                kept[name] = kept.get(name, 0) + (row["decision"] == "kept")
    order = sorted(read, key=lambda n: (-read[n], names.index(n)))[:15]
    assert samples["top_patterns"] == [
        {"pattern": n, "read": read[n], "kept": kept[n]} for n in order
    ]
    for group, threshold in min_hits.items():
        reach = [(r, s) for _, r, s in docs if (r[group] or 0) >= threshold]
        first = [(s, r["row"]) for r, s in reach if r["decision"] == "kept"][:3]
        near = sorted(
            (r for r, _ in reach if r["decision"] == "dropped"), key=lambda r: -r["score"]
        )
        shown = samples["groups"][group]
        assert [(d["shard"], d["row"]) for d in shown["kept"]] == first
        assert [d["score"] for d in shown["near_miss"]] == [r["score"] for r in near[:3]]
