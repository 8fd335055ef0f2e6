"""Server-side SVG charts: no JavaScript library, readable by screen readers.

Every chart is an `<svg role="img">` named by its `<title>` and described by its `<desc>`; every bar
carries its own `<title>` with the figure, and its value is written on it, so nothing is told by colour
or by height alone. The page puts a data table with the same figures next to each chart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

WIDTH, HEIGHT = 560, 190
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 22, 46  # room for the axis figures, value labels and two label rows


@dataclass(frozen=True)
class Bar:
    label: str  # under the bar (a week)
    value: float | None  # None: nothing to measure (drawn as a dash, not as zero)
    shown: str  # the value as written on the bar
    tip: str  # the bar's <title>: everything about it in words
    note: str = ""  # a second label row (e.g. "⚠2" breaches that week)
    marked: bool = False  # drawn in the warning colour (an anomaly); the note or the label says so in words


def _nice_max(top: float) -> float:
    """A round axis maximum at or above `top` (1, 2, 5 × 10^n), `top` ≥ 1."""
    scale = 1.0
    while scale * 10 < top:
        scale *= 10
    for step in (1, 2, 5, 10):
        if step * scale >= top:
            return step * scale
    return 10 * scale


def _figure(value: float) -> str:
    return f"{value:g}"


def bar_chart(chart_id: str, title: str, desc: str, bars: Sequence[Bar], unit: str = "") -> Markup:
    """A bar chart, one bar per item, with its value written above it and a gridline scale."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top = _nice_max(max([1.0, *(b.value or 0 for b in bars)]))  # never a scale finer than one unit
    step = plot_w / max(len(bars), 1)
    bar_w = max(step * 0.62, 2)
    base = TOP + plot_h
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" '
             f'height="{HEIGHT}" role="img" aria-labelledby="{chart_id}-t {chart_id}-d" class="barchart">',
             f'<title id="{chart_id}-t">{escape(title)}</title><desc id="{chart_id}-d">{escape(desc)}</desc>']
    for k in range(5):  # gridlines at 0, ¼, ½, ¾, 1 of the scale, each with its figure
        y = base - plot_h * k / 4
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="grid-line"/>'
                     f'<text x="{LEFT - 4}" y="{y + 4:.1f}" text-anchor="end" class="axis">'
                     f'{escape(_figure(top * k / 4))}</text>')
    if unit:
        parts.append(f'<text x="{LEFT - 4}" y="{TOP - 8}" text-anchor="end" class="axis">{escape(unit)}</text>')
    for i, b in enumerate(bars):
        x = LEFT + i * step + (step - bar_w) / 2
        mid = x + bar_w / 2
        parts.append(f"<g><title>{escape(b.tip)}</title>")
        if b.value is None:
            parts.append(f'<text x="{mid:.1f}" y="{base - 3:.1f}" text-anchor="middle" class="nodata">–</text>')
        else:
            h = plot_h * b.value / top
            parts.append(f'<rect x="{x:.1f}" y="{base - h:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                         f'class="{"bar marked" if b.marked else "bar"}"/>'
                         f'<text x="{mid:.1f}" y="{base - h - 3:.1f}" text-anchor="middle" class="value">'
                         f"{escape(b.shown)}</text>")
        parts.append(f'<text x="{mid:.1f}" y="{base + 14:.1f}" text-anchor="middle" class="axis">'
                     f"{escape(b.label)}</text>")
        if b.note:
            parts.append(f'<text x="{mid:.1f}" y="{base + 30:.1f}" text-anchor="middle" class="note">'
                         f"{escape(b.note)}</text>")
        parts.append("</g>")
    parts.append("</svg>")
    return Markup("".join(parts))
