"""Inline SVG charts (bars of tag counts, a trend line with its interval band) for the console
pages, the official's own report page: drawn on the server with presentation attributes only, so
no script, no stylesheet from elsewhere and no inline style (the CSP allows none) is needed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from markupsafe import Markup, escape

BAR_COLOURS = {"positive": "#2e7d32", "negative": "#c62828"}
WIDTH, ROW, LABEL = 420, 24, 110
TREND_W, TREND_H, PAD = 520, 200, 36


def bar_chart(items: Sequence[dict[str, Any]], tone: str, title: str) -> Markup:
    """Return horizontal bars of tag counts (the longest bar is the largest count)."""
    if not items:
        return Markup('<p class="muted">暂无</p>')
    top = max(item["count"] for item in items) or 1
    span = WIDTH - LABEL - 50
    rows = []
    for i, item in enumerate(items):
        y, length = i * ROW, max(2, round(span * item["count"] / top))
        rows.append(
            f'<text x="{LABEL - 6}" y="{y + 16}" text-anchor="end" font-size="13">'
            f'{escape(item["tag"])}</text>'
            f'<rect x="{LABEL}" y="{y + 4}" width="{length}" height="{ROW - 8}" '
            f'fill="{BAR_COLOURS.get(tone, "#555")}"></rect>'
            f'<text x="{LABEL + length + 6}" y="{y + 16}" font-size="13">{item["count"]}</text>')
    height = ROW * len(items)
    # Every text inside is escaped, every number formatted here: the markup is ours.
    return Markup(f'<svg class="chart-svg" role="img" aria-label="{escape(title)}" '  # noqa: S704
                  f'viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}">'
                  f'<title>{escape(title)}</title>{"".join(rows)}</svg>')


def _scale(points: Sequence[dict[str, Any]]) -> tuple[float, float]:
    """Return the y range covering every value and band edge, padded a little."""
    values = [p["headline"]["score_100"] for p in points if p["headline"].get("score_100")
              is not None]
    values += [edge for p in points if p.get("band") for edge in p["band"]]
    if not values:
        return 0.0, 100.0
    low, high = max(0.0, min(values) - 5), min(100.0, max(values) + 5)
    return (low, high) if high > low else (low - 1, high + 1)


def trend_chart(points: Sequence[dict[str, Any]], title: str) -> Markup:
    """Return the headline per period as a line, the index's interval as a shaded band."""
    if not points:
        return Markup('<p class="muted">暂无</p>')
    low, high = _scale(points)
    step = (TREND_W - 2 * PAD) / max(1, len(points) - 1)

    def x(i: int) -> float:
        return round(PAD + i * step, 1)

    def y(v: float) -> float:
        return round(TREND_H - PAD - (v - low) / (high - low) * (TREND_H - 2 * PAD), 1)

    parts = [f'<line x1="{PAD}" y1="{TREND_H - PAD}" x2="{TREND_W - PAD}" '
             f'y2="{TREND_H - PAD}" stroke="#999"></line>',
             f'<text x="4" y="{y(high) + 4}" font-size="11">{high:.0f}</text>',
             f'<text x="4" y="{y(low) + 4}" font-size="11">{low:.0f}</text>']
    for i in range(len(points) - 1):
        a, b = points[i].get("band"), points[i + 1].get("band")
        if a and b:
            parts.append(f'<polygon points="{x(i)},{y(a[1])} {x(i + 1)},{y(b[1])} '
                         f'{x(i + 1)},{y(b[0])} {x(i)},{y(a[0])}" fill="#90caf9" '
                         'fill-opacity="0.45"></polygon>')
    for i, p in enumerate(points):
        if p.get("band"):
            parts.append(f'<line x1="{x(i)}" y1="{y(p["band"][1])}" x2="{x(i)}" '
                         f'y2="{y(p["band"][0])}" stroke="#64b5f6"></line>')
    run: list[str] = []
    for i, p in enumerate([*points, {"headline": {}}]):
        value = p["headline"].get("score_100")
        if value is None:
            if len(run) > 1:
                parts.append(f'<polyline points="{" ".join(run)}" fill="none" '
                             'stroke="#1565c0" stroke-width="2"></polyline>')
            run = []
            continue
        run.append(f"{x(i)},{y(value)}")
        parts.append(f'<circle cx="{x(i)}" cy="{y(value)}" r="3" fill="#1565c0"></circle>'
                     f'<text x="{x(i)}" y="{y(value) - 8}" text-anchor="middle" '
                     f'font-size="11">{value:.1f}</text>')
    for i, p in enumerate(points):
        parts.append(f'<text x="{x(i)}" y="{TREND_H - PAD + 16}" text-anchor="middle" '
                     f'font-size="11">{escape(p["period"])}</text>')
        if p["headline"].get("score_100") is None:
            parts.append(f'<text x="{x(i)}" y="{TREND_H - PAD - 6}" text-anchor="middle" '
                         'font-size="10" fill="#999">不足</text>')
    return Markup(f'<svg class="chart-svg" role="img" aria-label="{escape(title)}" '  # noqa: S704
                  f'viewBox="0 0 {TREND_W} {TREND_H}" width="{TREND_W}" height="{TREND_H}">'
                  f'<title>{escape(title)}</title>{"".join(parts)}</svg>')
