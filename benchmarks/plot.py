"""Draw fan-out latency against N from the JSON lines of ``benchmarks.fanout`` runs (Pillow).

    python -m benchmarks.fanout > fanout.txt
    python -m benchmarks.plot fanout.txt [more runs...] --out docs/fanout.png

Each input file's last line is a fanout JSON object; rows from several files are merged by N
(a later file adds what an earlier one lacks, e.g. scaled results). It also prints the
results as a Markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

FONT_PATHS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
    "/usr/share/fonts/truetype/liberation2/LiberationSans-Regular.ttf",
)
SERIES = (  # (result key, statistic, label, colour, dashed)
    ("ours", "p50_ms", "ecabinet p50", (31, 119, 180), False),
    ("ours", "p99_ms", "ecabinet p99", (31, 119, 180), True),
    ("bare", "p50_ms", "bare python-socketio p50", (255, 127, 14), False),
    ("bare", "p99_ms", "bare python-socketio p99", (255, 127, 14), True),
    ("scaled", "p50_ms", "ecabinet ×2 + Redis p50", (44, 160, 44), False),
    ("scaled", "p99_ms", "ecabinet ×2 + Redis p99", (44, 160, 44), True),
    ("scaled_bare", "p50_ms", "bare ×2 + Redis p50", (148, 103, 189), False),
    ("scaled_bare", "p99_ms", "bare ×2 + Redis p99", (148, 103, 189), True),
)


def load_rows(paths: Sequence[Path]) -> list[dict[str, Any]]:
    rows: dict[int, dict[str, Any]] = {}
    for path in paths:
        last = path.read_text(encoding="utf-8").strip().splitlines()[-1]
        data = json.loads(last)
        if data.get("benchmark") != "fanout":
            raise SystemExit(f"{path}: the last line is not a fanout result")
        for row in data["results"]:
            merged = rows.setdefault(row["n"], {"n": row["n"]})
            for key, value in row.items():
                merged.setdefault(key, value)  # the first file's figures win
    return [rows[n] for n in sorted(rows)]


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for path in FONT_PATHS:
        if Path(path).is_file():
            return ImageFont.truetype(path, size)
    return ImageFont.load_default()


def _nice_step(span: float, ticks: int = 6) -> float:
    raw = span / ticks
    power = 10 ** math.floor(math.log10(raw))
    return float(next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw))


def _line(draw: ImageDraw.ImageDraw, points: list[tuple[float, float]],
          colour: tuple[int, int, int], dashed: bool) -> None:
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        if not dashed:
            draw.line([(x0, y0), (x1, y1)], fill=colour, width=3)
            continue
        length = math.hypot(x1 - x0, y1 - y0)
        steps = max(1, int(length // 9))
        for i in range(0, steps, 2):
            a, b = i / steps, min(1.0, (i + 1) / steps)
            draw.line([(x0 + (x1 - x0) * a, y0 + (y1 - y0) * a),
                       (x0 + (x1 - x0) * b, y0 + (y1 - y0) * b)], fill=colour, width=3)


def draw_plot(rows: list[dict[str, Any]], out: Path, subtitle: str = "") -> None:
    width, height = 1000, 620
    left, right, top, bottom = 90, 320, 100, 70
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    font, small, title_font = _font(16), _font(14), _font(20)
    values = [row[key][stat] for row in rows for key, stat, *_ in SERIES if key in row]
    top_ms = max(values) * 1.1 if values else 1.0
    step = _nice_step(top_ms)
    top_ms = math.ceil(top_ms / step) * step
    max_n = max(row["n"] for row in rows)
    plot_w, plot_h = width - left - right, height - top - bottom

    def xy(n: float, ms: float) -> tuple[float, float]:
        return left + plot_w * n / max_n, top + plot_h * (1 - ms / top_ms)

    draw.text((left, 18), "Fan-out latency: chair's agenda.next until each client has the event",
              fill="black", font=title_font)
    if subtitle:
        draw.text((left, 44), subtitle, fill=(90, 90, 90), font=small)
    tick = 0.0
    while tick <= top_ms + 1e-9:
        _, y = xy(0, tick)
        draw.line([(left, y), (left + plot_w, y)], fill=(225, 225, 225), width=1)
        label = f"{tick:g}"
        draw.text((left - 10 - draw.textlength(label, font=small), y - 8), label, fill="black",
                  font=small)
        tick += step
    for row in rows:
        x, _ = xy(row["n"], 0)
        draw.line([(x, top + plot_h), (x, top + plot_h + 6)], fill="black", width=1)
        label = str(row["n"])
        draw.text((x - draw.textlength(label, font=small) / 2, top + plot_h + 10), label,
                  fill="black", font=small)
    draw.rectangle([left, top, left + plot_w, top + plot_h], outline="black", width=1)
    draw.text((left + plot_w / 2 - 90, height - 30), "N (clients in the meeting)", fill="black",
              font=font)
    draw.text((12, top - 28), "latency (ms)", fill="black", font=font)

    legend_y = top + 10
    for key, stat, label, colour, dashed in SERIES:
        points = [xy(row["n"], row[key][stat]) for row in rows if key in row]
        if not points:
            continue
        _line(draw, points, colour, dashed)
        for x, y in points:  # p99 squares, p50 dots
            shape = draw.rectangle if dashed else draw.ellipse
            shape([x - 5, y - 5, x + 5, y + 5], fill=colour)
        lx = left + plot_w + 24
        _line(draw, [(lx, legend_y + 9), (lx + 40, legend_y + 9)], colour, dashed)
        draw.text((lx + 50, legend_y), label, fill="black", font=small)
        legend_y += 28
    out.parent.mkdir(parents=True, exist_ok=True)
    image.save(out, optimize=True)


def markdown(rows: list[dict[str, Any]]) -> str:
    head = ("| N | ecabinet p50 / p99 / max (ms) | bare p50 / p99 / max (ms) | p99 ratio | "
            "ecabinet ×2 + Redis p50 / p99 (ms) | bare ×2 + Redis p50 / p99 (ms) |")
    lines = [head, "|---|---|---|---|---|---|"]

    def trio(part: dict[str, Any] | None) -> str:
        if part is None:
            return "–"
        return f"{part['p50_ms']} / {part['p99_ms']} / {part['max_ms']}"

    def duo(part: dict[str, Any] | None) -> str:
        return "–" if part is None else f"{part['p50_ms']} / {part['p99_ms']}"

    for row in rows:
        lines.append(f"| {row['n']} | {trio(row.get('ours'))} | {trio(row.get('bare'))} | "
                     f"{row.get('p99_ratio', '–')} | {duo(row.get('scaled'))} | "
                     f"{duo(row.get('scaled_bare'))} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.plot")
    parser.add_argument("runs", nargs="+", type=Path, help="files whose last line is fanout JSON")
    parser.add_argument("--out", type=Path, default=Path("docs/fanout.png"))
    parser.add_argument("--subtitle", default="")
    args = parser.parse_args(argv)
    rows = load_rows(args.runs)
    draw_plot(rows, args.out, args.subtitle)
    print(markdown(rows))
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
