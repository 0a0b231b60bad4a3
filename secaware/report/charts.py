"""Charts as inline SVG written here: no JavaScript, no fonts or files fetched, prints as vectors.

Every label passes through markupsafe.escape, so a hostile value (a rule title, a host name) can
only ever be text inside the drawing.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

#: Severity colours, also used by the stylesheet: readable in print and for colour-blind readers
#: (they differ in lightness as well as hue).
COLOURS = {"critical": "#7f1d1d", "high": "#dc2626", "medium": "#f59e0b", "low": "#93c5fd",
           "informational": "#cbd5e1"}
PALETTE = ("#1d4ed8", "#dc2626", "#059669", "#d97706", "#7c3aed", "#0891b2", "#be185d", "#4b5563")


def _fit(text: str, units: int) -> str:
    """Cut text to a display width (CJK characters count double), marking the cut."""
    width = 0
    for i, ch in enumerate(text):
        width += 2 if ord(ch) > 0x2E80 else 1
        if width > units:
            return text[: max(i - 1, 1)] + "…"
    return text


def _num(value: float) -> str:
    if value >= 10_000:
        return f"{value / 1000:.0f}k"
    return f"{value:,.0f}" if value >= 1 or value == 0 else f"{value:.2f}"


def stacked_columns(days: Sequence[str], series: dict[str, Sequence[float]], *, title: str, width: int = 720,
                    height: int = 220, colours: dict[str, str] | None = None) -> Markup:
    """One column per day, stacked by series (e.g. incidents by severity), with a legend."""
    colours = colours or COLOURS
    n = max(len(days), 1)
    totals = [sum(s[i] for s in series.values()) for i in range(len(days))]
    top = max(totals or [0]) or 1
    left, bottom, plot_h = 44, 34, height - 60
    step = (width - left - 10) / n
    bar = max(step * 0.7, 1)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="{escape(title)}"><title>{escape(title)}</title>']
    for frac in (0, 0.5, 1):
        y = height - bottom - plot_h * frac
        parts.append(f'<line x1="{left}" x2="{width - 6}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
                     f'<text x="{left - 4}" y="{y + 4:.1f}" class="axis" text-anchor="end">{_num(top * frac)}</text>')
    for i, day in enumerate(days):
        x = left + i * step + (step - bar) / 2
        y = height - bottom
        for name, values in series.items():
            h = plot_h * values[i] / top
            if h > 0:
                y -= h
                parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                             f'fill="{colours.get(name, "#64748b")}"><title>{escape(day)} {escape(name)}: '
                             f'{values[i]:,.0f}</title></rect>')
        if n <= 16 or i % max(1, n // 8) == 0:
            parts.append(f'<text x="{x + bar / 2:.1f}" y="{height - bottom + 14}" class="axis" '
                         f'text-anchor="middle">{escape(day[5:])}</text>')
    x = left
    for name in series:
        parts.append(f'<rect x="{x}" y="{height - 12}" width="10" height="10" fill="{colours.get(name, "#64748b")}"/>'
                     f'<text x="{x + 14}" y="{height - 3}" class="axis">{escape(name)}</text>')
        x += 14 + 8 * len(str(name)) + 16
    parts.append("</svg>")
    return Markup("".join(parts))


def bars(items: Sequence[tuple[str, float]], *, title: str, width: int = 520, colour: str = "#1d4ed8",
         label_width: int = 220) -> Markup:
    """Horizontal bars, largest first (top-N lists: attack types, sources, systems)."""
    row = 22
    height = row * max(len(items), 1) + 8
    top = max((v for _, v in items), default=0) or 1
    span = width - label_width - 60
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="{escape(title)}"><title>{escape(title)}</title>']
    for i, (label, value) in enumerate(items):
        y = 4 + i * row
        text = _fit(label, int(label_width / 6.2))
        w = max(span * value / top, 1 if value else 0)
        parts.append(f'<text x="{label_width - 6}" y="{y + 15}" class="label" text-anchor="end">{escape(text)}'
                     f'<title>{escape(label)}</title></text>'
                     f'<rect x="{label_width}" y="{y + 3}" width="{w:.1f}" height="{row - 8}" fill="{colour}"/>'
                     f'<text x="{label_width + w + 4:.1f}" y="{y + 15}" class="axis">{_num(value)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def meter(value: float, top: float, *, colour: str = "#dc2626", width: int = 90) -> Markup:
    """A small inline bar for table cells (the prefecture comparison)."""
    w = 0 if top <= 0 else width * min(value / top, 1)
    return Markup(f'<svg xmlns="http://www.w3.org/2000/svg" class="meter" viewBox="0 0 {width} 10" width="{width}" '
                  f'height="10"><rect width="{width}" height="10" fill="#e5e7eb"/>'
                  f'<rect width="{w:.1f}" height="10" fill="{colour}"/></svg>')
