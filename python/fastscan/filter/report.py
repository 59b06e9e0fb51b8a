"""The run report in words (the summary printed at the end) and as one HTML page.

The page is self-contained: inline CSS and SVG, no scripts, no network.
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path
from typing import Any

from fastscan.terminal import count as counted
from fastscan.terminal import status_if_pipe_closes


def _mb(n: int) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= size:
            return f"{n / size:,.1f} {unit}"
    return f"{n:,} B"


def print_report(report: dict[str, Any], *, as_json: bool, quiet: bool) -> int:
    """What a run's command prints at the end (the report as JSON, or the summary unless
    quiet); returns its exit status: 1 when a shard failed, else 0 (also when the reader of
    stdout goes away while it prints)."""
    code = 1 if report["totals"]["failed"] else 0
    status_if_pipe_closes(code)
    if as_json:
        print(json.dumps(report, indent=1))
    elif not quiet:
        print(summary_text(report))
    return code


#: A speed over less time than this is mostly fixed costs (start-up, loading): not shown.
MIN_TIMED_SECONDS = 1.0


def command_of(report: dict[str, Any]) -> str:
    """The command that wrote a report: ``fastscan select`` or ``fastscan-filter``."""
    return (
        "fastscan select"
        if (report.get("executor") or {}).get("kind") == "select"
        else ("fastscan-filter")
    )


def summary_text(report: dict[str, Any]) -> str:
    """A short readable summary of a report (what the CLI prints at the end)."""
    t = report["totals"]
    command = command_of(report)
    read = t["read"]["docs"] or 1
    rule = report["keep_rule"]
    require = f" and hits in {', '.join(rule['require'])}" if rule["require"] else ""
    if rule.get("top_fraction") is not None:
        require += f", the top {rule['top_fraction']:.0%} of the {rule['top_fraction_of']} by score"
    lines = [
        f"{command}: {counted(t['shards'], 'shard')} ({t['ok']} ok, {t['failed']} failed, "
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
            timed = f["docs_per_s"] is not None and (f.get("seconds") or 0) >= MIN_TIMED_SECONDS
            rate = f"{f['docs_per_s']:>10,.0f}/s" if timed else f"{'-':>12}"
            lines.append(
                f"    {f['stage']:<9} {f['docs_in']:>10,} -> {f['docs_out']:<10,} {rate}  {reasons}"
            )
    hits = ", ".join(f"{g} {t['group_hits'].get(g, 0):,}" for g in report["groups"])
    lines.append(f"  group hits: {hits}")
    if t["format_hits"]:
        lines.append("  formats: " + ", ".join(f"{k} {v:,}" for k, v in t["format_hits"].items()))
    speed = t["mb_per_s"]
    if command == "fastscan select":
        lines.append(f"  {t['seconds']:.2f} s wall; decided from the run's scores (nothing read)")
    elif speed is None:
        lines.append(f"  {t['seconds']:.2f} s wall; nothing new was read (all shards resumed)")
    elif t["seconds"] < MIN_TIMED_SECONDS:
        lines.append(f"  {t['seconds']:.2f} s wall (too short to time the text read)")
    else:
        lines.append(
            f"  {t['seconds']:.2f} s wall, {speed:,.1f} MB/s of text read by this run "
            f"({t['mb_per_s_per_thread'] or 0:,.1f} MB/s per thread, {report['threads']} "
            "threads)"
        )
    for e in report["shards"]:
        if e["status"] == "failed":
            lines.append(f"  FAILED {e['relative']}: {e['error']}")
    out = (report.get("run") or {}).get("output")
    if out:
        lines.append(
            f"  kept records in {Path(out) / 'kept'}; the report in {Path(out) / 'report.html'}"
        )
    return "\n".join(lines)


# A shard whose rejects are at least this share of its records is flagged at the top.
HIGH_REJECT_RATE = 0.10
KEPT_COLOR, DROPPED_COLOR = "#2f7d32", "#9e9e9e"


def _e(value: Any) -> str:
    return html.escape(str(value))


def _alerts(report: dict[str, Any]) -> str:
    items = []
    for e in report["shards"]:
        read = e["read"]["docs"]
        if e["status"] == "failed":
            items.append(f"<li><b>failed</b> {_e(e['relative'])}: {_e(e['error'])}</li>")
        elif read and e["rejected"]["docs"] / read >= HIGH_REJECT_RATE:
            share = e["rejected"]["docs"] / read
            items.append(
                f"<li><b>{share:.0%} rejected</b> {_e(e['relative'])}: "
                f"{_e(', '.join(f'{k} {v:,}' for k, v in e['reject_reasons'].items()))}</li>"
            )
    if not items:
        return '<p class="ok">No failed shards; no shard rejected 10% or more of its records.</p>'
    return f'<ul class="alert">{"".join(items)}</ul>'


def _histogram(
    stage: str, dist: dict[str, Any], threshold: float | None, cutoff: float | None = None
) -> str:
    """Kept and dropped documents per score bin, side by side, on a log scale; the
    threshold and the cutoff a top fraction ended at are marked."""
    kept, dropped = dist["kept"], dist["dropped"]
    low, width = dist["low"], dist["width"]
    n = len(kept)
    w, h, left, bottom = 720, 200, 46, 34
    plot_w, plot_h = w - left - 10, h - bottom - 24
    top = max([*kept, *dropped, 1])
    decades = max(1, math.ceil(math.log10(top + 1)))

    def y(count: int) -> float:
        return plot_h * math.log10(count + 1) / decades

    step = plot_w / n
    parts = [
        f'<svg class="hist" width="{w}" height="{h}" role="img" '
        f'aria-label="{_e(stage)} {_e(dist["column"])} distribution">',
        f'<text x="{left}" y="14" class="t">{_e(stage)}: {_e(dist["column"])} of the documents '
        f"it saw (bin width {width:g}; log scale)</text>",
    ]
    base = 24 + plot_h
    for d in range(decades + 1):
        yy = base - plot_h * d / decades
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{yy:.1f}" y2="{yy:.1f}" class="grid"/>'
            f'<text x="{left - 4}" y="{yy + 4:.1f}" text-anchor="end">{10**d:,}</text>'
        )
    for i in range(n):
        x = left + i * step
        edge = low + i * width
        for j, (count, color, side) in enumerate(
            ((kept[i], KEPT_COLOR, "kept"), (dropped[i], DROPPED_COLOR, "dropped"))
        ):
            if count:
                bh = y(count)
                parts.append(
                    f'<rect x="{x + j * step / 2:.1f}" y="{base - bh:.1f}" '
                    f'width="{max(step / 2 - 0.5, 0.5):.1f}" height="{bh:.1f}" fill="{color}">'
                    f"<title>{edge:g}: {count:,} {side}</title></rect>"
                )
        if i % max(1, n // 12) == 0:
            parts.append(f'<text x="{x:.1f}" y="{base + 16}">{edge:g}</text>')
    for mark, label, y_label in ((threshold, "threshold", 32), (cutoff, "top-fraction cutoff", 46)):
        if mark is None or not math.isfinite(mark):
            continue
        tx = left + (mark - low) / width * step
        tx = min(max(tx, left), left + plot_w)
        parts.append(
            f'<line x1="{tx:.1f}" x2="{tx:.1f}" y1="20" y2="{base}" class="threshold"/>'
            f'<text x="{tx + 4:.1f}" y="{y_label}" class="threshold-label">'
            f"{label} {mark:.4g}</text>"
        )
    parts.append(
        f'<rect x="{left + plot_w - 150}" y="{h - 14}" width="10" height="10" fill="{KEPT_COLOR}"/>'
        f'<text x="{left + plot_w - 136}" y="{h - 5}">kept</text>'
        f'<rect x="{left + plot_w - 90}" y="{h - 14}" width="10" height="10" '
        f'fill="{DROPPED_COLOR}"/><text x="{left + plot_w - 76}" y="{h - 5}">dropped</text>'
    )
    parts.append("</svg>")
    return "".join(parts)


def _bar(value: int, top: int, color: str) -> str:
    width = 160 * value / top if top else 0
    return f'<span class="bar" style="width:{width:.0f}px;background:{color}"></span> {value:,}'


def _hits_table(title: str, names: list[str], read: dict[str, int], kept: dict[str, int]) -> str:
    top = max([*read.values(), 1])
    rows = "".join(
        f"<tr><td>{_e(n)}</td><td>{_bar(read.get(n, 0), top, DROPPED_COLOR)}</td>"
        f"<td>{_bar(kept.get(n, 0), top, KEPT_COLOR)}</td></tr>"
        for n in names
    )
    return (
        f"<table><tr><th>{_e(title)}</th><th>documents read with a hit</th>"
        f"<th>kept documents with a hit</th></tr>{rows}</table>"
    )


def _runs_on(stage: dict[str, Any]) -> str:
    """What a stage ran on (the semantic stages: backend, device, int8)."""
    if "backend" not in stage:
        return ""
    int8 = ", int8" if stage.get("quantize") else ""
    return f"{stage['backend']}{int8} on {stage['device']}"


def _funnel_table(report: dict[str, Any]) -> str:
    runs_on = {s["name"]: _runs_on(s) for s in report.get("stages") or []}
    rows = []
    for f in report.get("funnel") or []:
        reasons = ", ".join(f"{k} {v:,}" for k, v in list(f["drop_reasons"].items())[:3])
        rows.append(
            "<tr>"
            + "".join(
                f"<td>{_e(v)}</td>"
                for v in (
                    f["stage"],
                    f"{f['docs_in']:,}",
                    f"{f['docs_out']:,}",
                    f"{f['seconds']:,.2f}",
                    f"{f.get('setup_seconds', 0):,.2f}",
                    f"{f['docs_per_s'] or 0:,.0f}",
                    runs_on.get(f["stage"], ""),
                    reasons,
                )
            )
            + "</tr>"
        )
    return (
        "<table><tr><th>stage</th><th>docs in</th><th>docs out</th><th>seconds*</th>"
        "<th>set-up seconds*</th><th>docs/s</th><th>runs on</th><th>top drop reasons</th></tr>"
        + "".join(rows)
        + '</table><p class="note">* summed over shards (thread-seconds), including shards a '
        "previous invocation finished; the run's wall time is in the summary.</p>"
    )


def _doc(d: dict[str, Any]) -> str:
    more = f" … ({d['chars']:,} characters)" if d["chars"] > len(d["text"]) else ""
    why = f" — {_e(d['reason'])}" if d.get("reason") else ""
    return (
        f'<div class="doc"><div class="meta">{_e(d["shard"])} row {d["row"]} · score '
        f"{d['score']:.2f} · {_e(d['decision'])}{why}</div><pre>{_e(d['text'])}{more}</pre></div>"
    )


def _samples(samples: dict[str, Any]) -> str:
    if "error" in samples:
        return f"<p>{_e(samples['error'])}</p>"
    parts = [
        f'<p class="note">From the head of {len(samples["shards"])} shard(s) '
        f"({_e(', '.join(samples['shards']))}): {samples['documents']:,} documents, "
        f"{samples['kept_documents']:,} of them kept. Texts cut at 300 characters.</p>"
    ]
    for group, docs in samples["groups"].items():
        kept, near = docs["kept"], docs["near_miss"]
        parts.append(
            f"<details><summary><b>{_e(group)}</b>: {len(kept)} kept, {len(near)} dropped "
            "near misses</summary>"
            + ("<h4>kept</h4>" + "".join(_doc(d) for d in kept) if kept else "")
            + (
                "<h4>dropped, highest scores first</h4>" + "".join(_doc(d) for d in near)
                if near
                else ""
            )
            + ("<p>none in the sample</p>" if not kept and not near else "")
            + "</details>"
        )
    return "".join(parts)


def _top_patterns(samples: dict[str, Any]) -> str:
    rows = samples.get("top_patterns") or []
    if not rows:
        return "<p>No pattern hit in the sample.</p>"
    body = "".join(
        f"<tr><td><code>{_e(r['pattern'])}</code></td><td>{r['read']:,}</td><td>{r['kept']:,}</td></tr>"
        for r in rows
    )
    return (
        '<p class="note">Documents of the sample (see below) each pattern hits.</p>'
        "<table><tr><th>pattern</th><th>documents hit</th><th>kept documents hit</th></tr>"
        f"{body}</table>"
    )


def _shards_table(report: dict[str, Any]) -> str:
    rows = []
    for e in report["shards"]:
        read = e["read"]["docs"]
        flagged = e["status"] == "failed" or (
            read and e["rejected"]["docs"] / read >= HIGH_REJECT_RATE
        )
        cells = (
            e["relative"],
            e["status"] + (" (resumed)" if e.get("resumed") else ""),
            f"{read:,}",
            f"{e['kept']['docs']:,}",
            f"{e['dropped']['docs']:,}",
            f"{e['rejected']['docs']:,}",
            f"{e['seconds']:,.2f}",
            e["error"] or "",
        )
        cls = ' class="flag"' if flagged else ""
        rows.append(f"<tr{cls}>" + "".join(f"<td>{_e(c)}</td>" for c in cells) + "</tr>")
    return (
        "<table><tr><th>shard</th><th>status</th><th>read</th><th>kept</th><th>dropped</th>"
        "<th>rejected</th><th>seconds</th><th>error</th></tr>" + "".join(rows) + "</table>"
    )


STYLE = """
body { font: 14px system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ddd; margin-top: 1.6em; }
svg text { font: 11px system-ui, sans-serif; fill: #333; } svg .t { font-weight: bold; }
svg .grid { stroke: #eee; } svg .threshold { stroke: #c62828; stroke-dasharray: 4 3; }
svg .threshold-label { fill: #c62828; }
table { border-collapse: collapse; margin: 0.5em 0; }
td, th { border: 1px solid #ddd; padding: 3px 8px; text-align: left; vertical-align: top; }
tr.flag td { background: #fdecea; }
.bar { display: inline-block; height: 10px; }
.alert { background: #fdecea; border: 1px solid #c62828; padding: 0.6em 2em; }
.ok { color: #2f7d32; } .note { color: #666; font-size: 12px; }
.meta { color: #555; font-size: 12px; margin-top: 0.6em; }
pre { background: #f6f6f6; padding: 0.6em; white-space: pre-wrap; word-break: break-word; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; }
dt { color: #666; } dd { margin: 0; }
"""


def render_html(report: dict[str, Any]) -> str:
    """The report as one self-contained HTML page (inline CSS and SVG; no script, no
    network)."""
    t = report["totals"]
    run = report.get("run") or {}
    thresholds = run.get("thresholds") or {}
    cutoffs = run.get("cutoffs") or {}
    distributions = "".join(
        _histogram(stage, dist, thresholds.get(stage), (cutoffs.get(stage) or {}).get("value"))
        for stage, dist in (report.get("distributions") or {}).items()
    )
    samples = report.get("samples") or {"error": "no samples in this report"}
    config = json.dumps(run.get("config", {}), indent=1)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{command_of(report)} report</title>
<style>{STYLE}</style></head><body>
<h1>{command_of(report)} report</h1>
<dl>
<dt>fastscan</dt><dd>{_e(report["fastscan_version"])}</dd>
<dt>created</dt><dd>{_e(run.get("created", ""))}</dd>
<dt>inputs</dt><dd>{_e(" ".join(run.get("inputs", [])))}</dd>
<dt>output</dt><dd>{_e(run.get("output", ""))}</dd>
<dt>pack</dt><dd>{_e(report["pack"])}</dd>
</dl>
<h2 id="alerts">Needs attention</h2>{_alerts(report)}
<h2 id="summary">Summary</h2><pre>{_e(summary_text(report))}</pre>
<h2 id="funnel">Stages</h2>{_funnel_table(report)}
<h2 id="distributions">Score distributions</h2>{distributions or "<p>No scored documents.</p>"}
<h2 id="groups">Group hits</h2>{
        _hits_table("group", report["groups"], t["group_hits"], t.get("kept_group_hits", {}))
    }
<h2 id="formats">Tool-call formats</h2>{
        _hits_table("format", report["formats"], t["format_hits"], t.get("kept_format_hits", {}))
    }
<h2 id="patterns">Top patterns</h2>{_top_patterns(samples)}
<h2 id="samples">Documents to read</h2>{_samples(samples)}
<h2 id="shards">Shards</h2>{_shards_table(report)}
<h2 id="config">Config</h2><pre>{_e(config)}</pre>
</body></html>
"""


def write_html(path: Path, report: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    # File names that are not UTF-8 (kept by Python as surrogates) are shown escaped.
    tmp.write_text(render_html(report), encoding="utf-8", errors="backslashreplace")
    tmp.replace(path)
