"""The run report in words (the summary printed at the end) and as one HTML page.

The page is self-contained: inline CSS and SVG, no scripts, no network.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any


def _mb(n: int) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= size:
            return f"{n / size:,.1f} {unit}"
    return f"{n:,} B"


def summary_text(report: dict[str, Any]) -> str:
    """A short readable summary of a report (what the CLI prints at the end)."""
    t = report["totals"]
    read = t["read"]["docs"] or 1
    rule = report["keep_rule"]
    require = f" and hits in {', '.join(rule['require'])}" if rule["require"] else ""
    lines = [
        f"fastscan-filter: {t['shards']} shards ({t['ok']} ok, {t['failed']} failed, "
        f"{t['resumed']} resumed), pack {report['pack']}, "
        f"keep: score >= {rule['min_score']}{require}",
        f"  read     {t['read']['docs']:>12,} docs  {_mb(t['read']['bytes']):>14}",
    ]
    for d in ("kept", "dropped", "rejected"):
        lines.append(
            f"  {d:<8} {t[d]['docs']:>12,} docs  {_mb(t[d]['bytes']):>14}  "
            f"{100 * t[d]['docs'] / read:6.2f}%"
        )
    if t["reject_reasons"]:
        reasons = ", ".join(f"{k} {v:,}" for k, v in t["reject_reasons"].items())
        lines.append(f"  rejects: {reasons}")
    funnel = report.get("funnel") or []
    if len(funnel) > 1:
        lines.append("  funnel: stage, docs in -> out, docs/s, top drop reasons")
        for f in funnel:
            reasons = ", ".join(f"{k} {v:,}" for k, v in list(f["drop_reasons"].items())[:3])
            lines.append(
                f"    {f['stage']:<9} {f['docs_in']:>10,} -> {f['docs_out']:<10,} "
                f"{f['docs_per_s'] or 0:>10,.0f}/s  {reasons}"
            )
    hits = ", ".join(f"{g} {t['group_hits'].get(g, 0):,}" for g in report["groups"])
    lines.append(f"  group hits: {hits}")
    if t["format_hits"]:
        lines.append("  formats: " + ", ".join(f"{k} {v:,}" for k, v in t["format_hits"].items()))
    speed = t["mb_per_s"]
    if speed is None:
        lines.append(f"  {t['seconds']:.2f} s wall; nothing new was read (all shards resumed)")
    else:
        lines.append(
            f"  {t['seconds']:.2f} s wall, {speed:,.1f} MB/s of text read by this run "
            f"({t['mb_per_s_per_thread'] or 0:,.1f} MB/s per thread, {report['threads']} "
            "threads)"
        )
    for e in report["shards"]:
        if e["status"] == "failed":
            lines.append(f"  FAILED {e['relative']}: {e['error']}")
    return "\n".join(lines)


def _bars(title: str, items: list[tuple[str, int]], color: str) -> str:
    """A horizontal bar chart as inline SVG."""
    width, row, label_w = 640, 22, 170
    top = max((v for _, v in items), default=0) or 1
    height = row * max(len(items), 1) + 30
    parts = [
        f'<svg width="{width}" height="{height}" role="img" aria-label="{html.escape(title)}">',
        f'<text x="0" y="16" class="t">{html.escape(title)}</text>',
    ]
    for i, (label, value) in enumerate(items):
        y = 28 + i * row
        w = (width - label_w - 90) * value / top
        parts.append(
            f'<text x="0" y="{y + 14}">{html.escape(label)}</text>'
            f'<rect x="{label_w}" y="{y + 2}" width="{w:.1f}" height="{row - 6}" fill="{color}"/>'
            f'<text x="{label_w + w + 6:.1f}" y="{y + 14}">{value:,}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _histogram(counts: list[int]) -> str:
    width, height, pad = 640, 180, 30
    top = max(counts, default=0) or 1
    bar = (width - pad) / max(len(counts), 1)
    parts = [
        f'<svg width="{width}" height="{height + 40}" role="img" aria-label="score histogram">',
        '<text x="0" y="14" class="t">score histogram (documents scored, bin width 1; '
        "last bin: 40 and above)</text>",
    ]
    for i, c in enumerate(counts):
        h = (height - 30) * c / top
        x = pad + i * bar
        parts.append(
            f'<rect x="{x:.1f}" y="{height - h:.1f}" width="{bar - 1:.1f}" height="{h:.1f}" '
            f'fill="#4c78a8"><title>{i}: {c:,}</title></rect>'
        )
        if i % 5 == 0:
            parts.append(f'<text x="{x:.1f}" y="{height + 16}">{i}</text>')
    parts.append("</svg>")
    return "".join(parts)


def render_html(report: dict[str, Any]) -> str:
    """The report as one self-contained HTML page."""
    t = report["totals"]
    funnel = [(d, t[d]["docs"]) for d in ("read", "kept", "dropped", "rejected")]
    stages = [(f"{f['stage']} (out)", f["docs_out"]) for f in report.get("funnel") or []]
    groups = [(g, t["group_hits"].get(g, 0)) for g in report["groups"]]
    formats = [(f, t["format_hits"].get(f, 0)) for f in report["formats"]]
    rows = "".join(
        "<tr>"
        + "".join(
            f"<td>{html.escape(str(v))}</td>"
            for v in (
                e["relative"],
                e["status"],
                f"{e['read']['docs']:,}",
                f"{e['kept']['docs']:,}",
                f"{e['dropped']['docs']:,}",
                f"{e['rejected']['docs']:,}",
                f"{e['mb_per_s'] or 0:,.1f}",
                e["error"] or "",
            )
        )
        + "</tr>"
        for e in report["shards"]
    )
    summary = html.escape(summary_text(report))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>fastscan-filter report</title>
<style>
body {{ font: 14px system-ui, sans-serif; margin: 2em; color: #222; }}
svg text {{ font: 12px system-ui, sans-serif; }} svg .t {{ font-weight: bold; }}
table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #ccc; padding: 3px 8px; }}
pre {{ background: #f6f6f6; padding: 1em; }}
</style></head><body>
<h1>fastscan-filter report</h1>
<pre>{summary}</pre>
<h2>Funnel</h2>{_bars("documents", funnel, "#59a14f")}
{_bars("documents each stage keeps", stages, "#76b7b2")}
<h2>Group hits</h2>{_bars("documents with a hit (count at min_hits)", groups, "#f28e2b")}
<h2>Tool-call formats</h2>{_bars("documents with the format detected", formats, "#e15759")}
<h2>Scores</h2>{_histogram(t["score_histogram"]["counts"])}
<h2>Shards</h2>
<table><tr><th>shard</th><th>status</th><th>read</th><th>kept</th><th>dropped</th>
<th>rejected</th><th>MB/s</th><th>error</th></tr>{rows}</table>
</body></html>
"""


def write_html(path: Path, report: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(render_html(report), encoding="utf-8")
    tmp.replace(path)
