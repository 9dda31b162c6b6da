"""A time series chart: one line per measure (the overall and each dimension) across an
organization's rounds, on the instrument's own scale (1 to 4 on a four-level rubric, never 0).

Rounds are spaced evenly in date order (a round is an event, not a point on a calendar). Lines
differ by colour AND dash pattern, so they stay apart in grey print and for colour blindness; the
overall is the thick dark line. The legend is HTML beside the SVG (a small swatch per line) so it
stays readable on a phone, where the drawing is scaled down; the data table carries every number.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

from app.domain.instrument import Instrument, Method
from app.web.charts.svg import GRID, INK, MUTED, PALETTE, Figure, Table, el, fmt, scale, text

WIDTH, PLOT_HEIGHT = 600, 260
LEFT, RIGHT, TOP = 52, 24, 14
FONT_SIZE = 16  # the drawing shrinks to about 60% on a phone: start large
CHAR = FONT_SIZE * 0.58  # the width of an average character
LONGEST = 16  # round labels longer than this are cut (the table has them whole)
DASHES = (None, "8 4", "2 4", "12 4 2 4")


@dataclass(frozen=True)
class Line:
    """One measure over the rounds; None where a round has no value for it."""

    label: str
    values: Sequence[float | None]
    strong: bool = False  # the overall: thick and dark


@dataclass(frozen=True)
class Legend:
    label: str
    color: str
    dash: str | None
    width: float

    def swatch(self) -> Markup:
        line = el(
            "line",
            x1=2.0,
            y1=7.0,
            x2=30.0,
            y2=7.0,
            stroke=self.color,
            stroke_width=self.width,
            stroke_dasharray=self.dash,
        )
        dot = el("circle", cx=16.0, cy=7.0, r=3.5, fill=self.color)
        return Markup(  # noqa: S704  (numbers and a colour of ours only)
            f'<svg class="swatch" width="32" height="14" viewBox="0 0 32 14" aria-hidden="true" '
            f'focusable="false">{line}{dot}</svg>'
        )


@dataclass(frozen=True)
class SeriesChart:
    figure: Figure
    legend: list[Legend]


@dataclass(frozen=True)
class Axis:
    """The value axis: the instrument's scale, with the ticks to draw."""

    lo: float
    hi: float
    ticks: Sequence[float]


def axis_of(instrument: Instrument, values: Sequence[float | None]) -> Axis:
    """The instrument's own scale: its scale values for a rubric (1 to 4), percent for risk."""
    if instrument.scoring.method in (Method.mean, Method.weighted_mean):
        scale = [v.value for s in instrument.scales.values() for v in s.values]
        lo, hi = min(scale), max(scale)
        step = 1.0 if hi - lo <= 10 else (hi - lo) / 4
        ticks = [lo + step * i for i in range(round((hi - lo) / step) + 1)]
        return Axis(lo, hi, ticks)
    if instrument.scoring.method is Method.risk:
        return Axis(0.0, 100.0, [0.0, 25.0, 50.0, 75.0, 100.0])
    top = max([v for v in values if v is not None] or [1.0])
    return Axis(0.0, top, [0.0, top / 2, top])


def _style(index: int, line: Line) -> Legend:
    if line.strong:
        return Legend(line.label, INK, None, 3.5)
    color = PALETTE[index % len(PALETTE)]
    dash = DASHES[(index // len(PALETTE) + index) % len(DASHES)]
    return Legend(line.label, color, dash, 2.0)


def _short(label: str) -> str:
    return label if len(label) <= LONGEST else label[: LONGEST - 1] + "…"


def _runs(points: list[tuple[float, float | None]]) -> list[list[tuple[float, float]]]:
    """Stretches of consecutive points that have values (a gap breaks the line)."""
    runs: list[list[tuple[float, float]]] = [[]]
    for x, y in points:
        if y is None:
            runs.append([])
        else:
            runs[-1].append((x, y))
    return [r for r in runs if r]


def series_chart(
    *,
    title: str,
    description: str,
    rounds: Sequence[str],
    lines: Sequence[Line],
    axis: Axis,
    number: Callable[[float | None], str],
    caption: str,
    first_head: str,
) -> SeriesChart:
    """The chart and its legend; the table has a row per line and a column per round."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, PLOT_HEIGHT
    ya, yb = scale(axis.lo, axis.hi, TOP + plot_h, TOP)
    step = plot_w / max(len(rounds), 1)
    labels = [_short(r) for r in rounds]
    widest = max((len(x) for x in labels), default=0) * CHAR
    slanted = widest > step - 6  # labels side by side would touch: slant them
    bottom = int(widest * 0.64) + 34 if slanted else 36
    height = TOP + plot_h + bottom
    xs = [LEFT + step * (i + 0.5) for i in range(len(rounds))]
    parts: list[str] = []
    for tick in axis.ticks:
        y = ya * tick + yb
        parts.append(el("line", x1=float(LEFT), y1=y, x2=float(WIDTH - RIGHT), y2=y, stroke=GRID))
        parts.append(
            text(LEFT - 8, y + 5, number(tick), text_anchor="end", fill=MUTED, font_size=FONT_SIZE)
        )
    base = TOP + plot_h
    parts.append(el("line", x1=float(LEFT), y1=base, x2=float(WIDTH - RIGHT), y2=base, stroke=INK))
    for x, label in zip(xs, labels, strict=True):
        if slanted:
            y = base + 20
            parts.append(
                text(
                    x + 4,
                    y,
                    label,
                    text_anchor="end",
                    font_size=FONT_SIZE,
                    transform=f"rotate(-40 {fmt(x + 4)} {fmt(y)})",
                )
            )
        else:
            parts.append(text(x, base + 24, label, text_anchor="middle", font_size=FONT_SIZE))
    legend = [_style(i, line) for i, line in enumerate(lines)]
    # the overall is drawn last, on top of the dimensions
    order = sorted(range(len(lines)), key=lambda i: lines[i].strong)
    for i in order:
        line, look = lines[i], legend[i]
        clipped = [None if v is None else min(max(v, axis.lo), axis.hi) for v in line.values]
        drawn = [(x, None if v is None else ya * v + yb) for x, v in zip(xs, clipped, strict=True)]
        group: list[str] = []
        for run in _runs(drawn):
            if len(run) > 1:
                d = "M" + " L".join(f"{fmt(x)} {fmt(y)}" for x, y in run)
                group.append(
                    el(
                        "path",
                        d=d,
                        fill="none",
                        stroke=look.color,
                        stroke_width=look.width,
                        stroke_dasharray=look.dash,
                        stroke_linejoin="round",
                    )
                )
        for (px, py), value, label in zip(drawn, line.values, rounds, strict=True):
            if py is not None:
                tip = el("title", escape(f"{line.label} · {label}: {number(value)}"))
                r = 4.5 if line.strong else 3.5
                group.append(el("circle", tip, cx=px, cy=py, r=r, fill=look.color))
        parts.append(el("g", "".join(group)))
    table = Table(
        caption,
        [first_head, *rounds],
        [[line.label, *(number(v) for v in line.values)] for line in lines],
    )
    figure = Figure(title, description, WIDTH, height, "".join(parts), table)
    return SeriesChart(figure, legend)
