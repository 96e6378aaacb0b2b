"""Bar and line charts drawn on the server as inline SVG.

Why not a charting library: pygal's SVG carries its own ``<style>`` and scripts, which the
portal's Content-Security-Policy refuses (no inline style or script), and its text shrinks with
the picture. These charts are plain SVG elements with presentation attributes only, so they
need no JavaScript, pass the CSP, print, and work without colour:

- bars are filled with patterns (solid, hatching, dots, cross-hatching) with a dark outline, and
  each bar has its value printed at its end;
- lines differ by marker shape (circle, square, triangle, diamond) and dash, and carry their
  values printed at every point (a single line) or at the last point (several);
- every chart has a legend, a text summary written by the page, and its data table next to it
  (the table is what a screen reader reads; the SVG is ``role="img"`` with a title and summary).

The geometry is computed here and written by ``templates/statistics/_chart.html``. In 长辈模式
(``large=True``) the text is 24 px and the chart is drawn bigger rather than scaled down; on a
narrow screen it scrolls sideways inside its own region, so its text is never smaller than the
page's (``static/css/statistics.css``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from flask import render_template
from markupsafe import Markup

Number = int | float | Decimal

# fill of each series, in order: (pattern kind, colour). Dark colours on white: every pattern
# has at least 3:1 contrast against the page (WCAG 1.4.11), and they stay apart in greyscale.
PATTERNS: tuple[tuple[str, str], ...] = (
    ("solid", "#0b4f9c"),
    ("hatch", "#7a2e00"),
    ("dots", "#1e6b34"),
    ("cross", "#4a2a7a"),
)
MARKERS: tuple[str, ...] = ("circle", "square", "triangle", "diamond")
DASHES: tuple[str, ...] = ("", "8 5", "3 4", "12 4 3 4")
INK = "#1a1a1a"
GRID = "#8a94a3"


@dataclass(frozen=True)
class Series:
    """One named row of values, one per category; None where there is no value."""

    name: str
    values: Sequence[Number | None]


@dataclass(frozen=True)
class Chart:
    """What the page wants drawn. ``percent``: values are shares between 0 and 1."""

    key: str  # unique on the page: the ids of the SVG's title, description and patterns
    kind: Literal["bar", "line"]
    title: str
    summary: str
    categories: Sequence[str]
    series: Sequence[Series]
    percent: bool = False
    unit: str = ""  # after a count in the axis title, e.g. 件

    def __post_init__(self) -> None:
        if not self.series:
            raise ValueError("a chart needs at least one series")
        if len(self.series) > len(PATTERNS):
            raise ValueError(f"at most {len(PATTERNS)} series")
        for s in self.series:
            if len(s.values) != len(self.categories):
                raise ValueError(f"series {s.name!r}: one value per category")


def format_value(value: Number | None, percent: bool) -> str:
    """How a value is printed on the chart: 95.4% or 1,234; a dash when there is none."""
    if value is None:
        return "—"
    if percent:
        return f"{float(value) * 100:.1f}%"
    number = float(value)
    return f"{number:,.0f}" if number == int(number) else f"{number:,.1f}"


def text_width(text: str, size: float) -> float:
    """A generous estimate of a label's width: a CJK character is one em, others 0.62 em."""
    return sum(size if ord(ch) > 0x2E7F else size * 0.62 for ch in text)


def nice_max(value: float) -> float:
    """The axis end: the data's maximum rounded up to 1, 2, 2.5 or 5 × a power of ten."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power  # pragma: no cover (the loop always returns)


@dataclass(frozen=True)
class Text:
    x: float
    y: float
    text: str
    anchor: str = "start"  # start | middle | end
    bold: bool = False


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    pattern: int
    label: Text


@dataclass(frozen=True)
class Line:
    pattern: int
    points: list[tuple[float, float]]  # drawn points (None values left out)
    segments: list[str]  # one SVG path per unbroken run of values
    marker: str
    dash: str
    labels: list[Text]


@dataclass(frozen=True)
class Swatch:
    x: float
    y: float
    size: float
    pattern: int
    label: Text
    marker: str = ""
    dash: str = ""


@dataclass
class Layout:
    """Everything the template draws, in user units equal to CSS pixels (no scaling)."""

    chart: Chart
    width: float
    height: float
    font: float
    patterns: list[tuple[str, str]] = field(default_factory=list)
    texts: list[Text] = field(default_factory=list)
    rules: list[tuple[float, float, float, float]] = field(default_factory=list)  # grid, axes
    bars: list[Bar] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    legend: list[Swatch] = field(default_factory=list)


def _legend(layout: Layout, top: float, line_style: bool) -> float:
    """Legend swatches across the top (wrapping); returns the y below them."""
    f = layout.font
    x, y = 0.0, top
    for i, s in enumerate(layout.chart.series):
        need = f * 2.8 + text_width(s.name, f) + f
        if x > 0 and x + need > layout.width:
            x, y = 0.0, y + f * 1.8
        layout.legend.append(
            Swatch(
                x=x,
                y=y,
                size=f,
                pattern=i,
                label=Text(x + f * 2.8, y + f * 0.85, s.name),
                marker=MARKERS[i] if line_style else "",
                dash=DASHES[i] if line_style else "",
            )
        )
        x += need
    return y + f * 2.0


def bar_layout(chart: Chart, large: bool) -> Layout:
    """Horizontal bars: each category's label on its own line above its bars (long Chinese
    item names need the whole width), one bar per series, the value printed after the bar."""
    f = 24.0 if large else 14.0
    width = 720.0 if large else 640.0
    layout = Layout(chart=chart, width=width, height=0, font=f, patterns=list(PATTERNS))
    y = _legend(layout, 0, False) if len(chart.series) > 1 else 0.0
    values = [float(v) for s in chart.series for v in s.values if v is not None]
    top = 1.0 if chart.percent else nice_max(max(values, default=0.0))
    room = width - text_width("100.0%", f) - f  # the longest printed value and a gap
    bar_h = f * 1.3
    for ci, category in enumerate(chart.categories):
        layout.texts.append(Text(0, y + f, category, bold=True))
        y += f * 1.5
        for si, s in enumerate(chart.series):
            value = s.values[ci]
            w = 0.0 if value is None else max(room * float(value) / top, 0.0)
            if value is not None and float(value) > 0:
                w = max(w, 2.0)  # a tiny share is still visible as a sliver
            label = Text(w + f * 0.4, y + bar_h * 0.78, format_value(value, chart.percent))
            layout.bars.append(Bar(0, y, w, bar_h, si, label))
            y += bar_h + f * 0.3
        y += f * 0.6
    layout.height = y
    return layout


def _y_ticks(chart: Chart) -> tuple[float, list[float]]:
    if chart.percent:
        return 1.0, [0, 0.25, 0.5, 0.75, 1.0]
    values = [float(v) for s in chart.series for v in s.values if v is not None]
    step = nice_max(max(values, default=0.0) / 4)
    if step < 1:  # counts: whole numbers on the axis
        step = 1.0
    top = step * 4
    return top, [step * i for i in range(5)]


def line_layout(chart: Chart, large: bool) -> Layout:
    """A trend over the categories (months, days), y from 0; gaps where a value is missing."""
    f = 24.0 if large else 14.0
    width = 960.0 if large else 720.0
    layout = Layout(chart=chart, width=width, height=0, font=f, patterns=list(PATTERNS))
    top_y = _legend(layout, 0, True) + f * 0.8
    top, ticks = _y_ticks(chart)
    left = max(text_width(format_value(t, chart.percent), f) for t in ticks) + f * 0.6
    right = width - f * 3.5  # room for the last point's value
    plot_h = f * 14
    bottom = top_y + plot_h
    n = len(chart.categories)
    step = (right - left) / max(n - 1, 1)

    def x_at(i: int) -> float:
        return left + (step * i if n > 1 else (right - left) / 2)

    def y_at(v: float) -> float:
        return bottom - plot_h * (v / top)

    for t in ticks:
        y = y_at(t)
        layout.rules.append((left, y, right, y))
        layout.texts.append(
            Text(left - f * 0.4, y + f * 0.35, format_value(t, chart.percent), "end")
        )
    # category labels under the axis: as many as fit without touching
    widest = max((text_width(c, f) for c in chart.categories), default=0.0) + f
    every = max(1, math.ceil(widest / step)) if n > 1 else 1
    for i, category in enumerate(chart.categories):
        if i % every == 0:
            x, half = x_at(i), text_width(category, f) / 2
            anchor = "middle"
            if x - half < 0:  # the first label starts at the edge rather than past it
                x, anchor = 0.0, "start"
            elif x + half > width:
                x, anchor = width, "end"
            layout.texts.append(Text(x, bottom + f * 1.4, category, anchor))
    single = len(chart.series) == 1
    for si, s in enumerate(chart.series):
        points: list[tuple[float, float]] = []
        segments: list[str] = []
        run: list[tuple[float, float]] = []
        labels: list[Text] = []
        last = max((i for i, v in enumerate(s.values) if v is not None), default=None)
        for i, v in enumerate(s.values):
            if v is None:
                if run:
                    segments.append(_path(run))
                run = []
                continue
            point = (x_at(i), y_at(float(v)))
            points.append(point)
            run.append(point)
            if single or i == last:
                # above the point; the last point's value goes to its right
                if i == last and not single:
                    labels.append(
                        Text(
                            point[0] + f * 0.6, point[1] + f * 0.35, format_value(v, chart.percent)
                        )
                    )
                else:
                    labels.append(
                        Text(point[0], point[1] - f * 0.7, format_value(v, chart.percent), "middle")
                    )
        if run:
            segments.append(_path(run))
        layout.lines.append(Line(si, points, segments, MARKERS[si], DASHES[si], labels))
    if not single:
        _spread_end_labels(layout.lines, f, lowest=bottom + f * 0.35)
    layout.rules.append((left, bottom, right, bottom))  # the x axis, drawn last (on top)
    layout.height = bottom + f * 2.2
    return layout


def _spread_end_labels(lines: list[Line], f: float, lowest: float) -> None:
    """Lines ending close together: move their end values apart so none covers another, and
    none below ``lowest`` (the baseline of a value on the x axis), where the category labels
    are: values ending near 0 are spread upwards."""
    ends = sorted((line.labels[-1].y, k) for k, line in enumerate(lines) if line.labels)
    placed: list[tuple[float, int]] = []
    previous = -math.inf
    for y, k in ends:
        previous = max(y, previous + f * 1.15)
        placed.append((previous, k))
    following = math.inf
    for i in range(len(placed) - 1, -1, -1):
        y, k = placed[i]
        following = min(y, lowest, following - f * 1.15)
        label = lines[k].labels[-1]
        lines[k].labels[-1] = Text(label.x, following, label.text, label.anchor, label.bold)


def _path(points: list[tuple[float, float]]) -> str:
    return " ".join(f"{'M' if i == 0 else 'L'}{x:.1f} {y:.1f}" for i, (x, y) in enumerate(points))


def layout_for(chart: Chart, large: bool = False) -> Layout:
    return bar_layout(chart, large) if chart.kind == "bar" else line_layout(chart, large)


def render_chart(chart: Chart, large: bool = False) -> Markup:
    """The chart's ``<figure>``: title, summary and the SVG (the page adds the data table)."""
    return Markup(  # nosec B704 (autoescaped template output)
        render_template("statistics/_chart.html", layout=layout_for(chart, large))
    )
