#!/usr/bin/env python3
"""Plot and tabulate the results of `cargo bench --bench engines` (criterion's JSON under target/criterion).

    python3 benches/plot.py [CRITERION_DIR] [OUT_SVG]

Writes an SVG of latency per decision against list size for each engine (log-log; default
benches/scaling.svg) and prints the Markdown tables benches/README.md records. Standard library only.
"""

import json
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CRITERION = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "target" / "criterion"
OUT = Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "benches" / "scaling.svg"

ENGINES = [
    # (bench name, label, colour, decisions per iteration)
    ("native", "native Rust (floor)", "#555555", 1),
    ("pathsec-cache-hit", "pathsec cache hit", "#1b9e77", 1),
    ("pathsec-batch-64", "pathsec batch of 64", "#66a61e", 64),
    ("pathsec-cache-miss", "pathsec cache miss", "#7570b3", 1),
    ("component-constant", "constant component call", "#a6761d", 1),
    ("regorus", "Rego (regorus interpreter)", "#d95f02", 1),
    ("regorus-rvm", "Rego (regorus RVM)", "#e6ab02", 1),
    ("cedar", "Cedar (cedar-policy)", "#e7298a", 1),
]
SIZES = [10, 100, 1_000, 10_000, 100_000]


def median_ns(*path):
    """The median of one bench, in ns per iteration, or None when it was not run."""
    file = CRITERION.joinpath(*path, "new", "estimates.json")
    if not file.exists():
        return None
    return json.loads(file.read_text())["median"]["point_estimate"]


def per_decision(group, engine, param, per):
    value = median_ns(group, engine, str(param))
    return None if value is None else value / per


def table(group, params):
    print(f"\n| engine | " + " | ".join(str(p) for p in params) + " |")
    print("|---|" + "---|" * len(params))
    for engine, label, _, per in ENGINES:
        cells = []
        for p in params:
            v = per_decision(group, engine, p, per)
            cells.append("—" if v is None else f"{v:,.0f} ns" if v >= 100 else f"{v:.1f} ns")
        print(f"| {label} | " + " | ".join(cells) + " |")


def ratios():
    print("\n| ratio (interleaved) | value |")
    print("|---|---|")
    base = CRITERION / "engine-ratio"
    if not base.exists():
        return
    # Criterion writes the bench `subject/floor` as the directory `subject_floor`.
    for bench in sorted(p.name for p in base.iterdir() if p.is_dir() and p.name != "report"):
        value = median_ns("engine-ratio", bench)
        if value is not None:
            # The ratio benches report the ratio as microseconds.
            print(f"| {bench.replace('_', ' ÷ ', 1)} | {value / 1000:.2f}× |")


def plot():
    width, height, left, right, top, bottom = 760, 460, 70, 210, 30, 50
    series = []
    for engine, label, colour, per in ENGINES:
        points = [(s, per_decision("scaling", engine, s, per)) for s in SIZES]
        points = [(s, v) for s, v in points if v is not None]
        if points:
            series.append((label, colour, points))
    if not series:
        print(f"no scaling results under {CRITERION}: run `cargo bench --bench engines -- scaling` first")
        return
    values = [v for _, _, points in series for _, v in points]
    lo, hi = 10 ** math.floor(math.log10(min(values))), 10 ** math.ceil(math.log10(max(values)))
    x = lambda s: left + (math.log10(s) - 1) / 4 * (width - left - right)
    y = lambda v: top + (math.log10(hi) - math.log10(v)) / (math.log10(hi) - math.log10(lo)) * (height - top - bottom)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{left}" y="18" font-size="14">Latency per decision against list size (every list with N entries)</text>',
    ]
    decade = lo
    while decade <= hi:
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{y(decade):.1f}" y2="{y(decade):.1f}" stroke="#ddd"/>')
        label = f"{decade:g} ns" if decade < 1000 else f"{decade / 1000:g} µs" if decade < 1e6 else f"{decade / 1e6:g} ms"
        out.append(f'<text x="{left - 6}" y="{y(decade) + 4:.1f}" text-anchor="end">{label}</text>')
        decade *= 10
    for s in SIZES:
        out.append(f'<line x1="{x(s):.1f}" x2="{x(s):.1f}" y1="{top}" y2="{height - bottom}" stroke="#eee"/>')
        out.append(f'<text x="{x(s):.1f}" y="{height - bottom + 16}" text-anchor="middle">{s:,}</text>')
    out.append(f'<text x="{(left + width - right) / 2}" y="{height - 12}" text-anchor="middle">list entries</text>')
    for i, (label, colour, points) in enumerate(series):
        path = " ".join(f"{'M' if j == 0 else 'L'}{x(s):.1f},{y(v):.1f}" for j, (s, v) in enumerate(points))
        out.append(f'<path d="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for s, v in points:
            out.append(f'<circle cx="{x(s):.1f}" cy="{y(v):.1f}" r="3" fill="{colour}"/>')
        ly = top + 10 + i * 20
        out.append(f'<line x1="{width - right + 15}" x2="{width - right + 35}" y1="{ly}" y2="{ly}" stroke="{colour}" stroke-width="2"/>')
        out.append(f'<text x="{width - right + 40}" y="{ly + 4}">{label}</text>')
    out.append("</svg>")
    OUT.write_text("\n".join(out) + "\n")
    print(f"\nwrote {OUT}")


if __name__ == "__main__":
    print("## engines (operator lists: List 1 1,000, List 2 10,000, List 3 300), median per decision")
    table("engines", ["operator"])
    print("\n## scaling: every list with N entries, median per decision")
    table("scaling", SIZES)
    print("\n## real-world list sizes, median per decision")
    table("real-world", ["mvno", "operator", "iot-hub"])
    ratios()
    plot()
