"""The peer benchmark chart: one bar per dimension on the instrument's scale, with the peers'
middle half (first to third quartile) as a band, their median as a line and the organization's
number as a diamond.

Each dimension's name sits above its bar, so the drawing stays readable when a phone scales it
down. A dimension fewer than five peers have is drawn as an empty track with a word saying why.
The data table beside the figure carries every number (``svg.Figure``). Texts come translated.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from app.web.charts.svg import GRID, INK, MUTED, PALETTE, Figure, Table, el, fmt, scale, text
from app.web.i18n import number as plain

BAND, MARK = PALETTE[0], PALETTE[1]  # blue band, orange mark: apart for color blindness
TRACK = "#f1f4f8"


@dataclass(frozen=True)
class Bar:
    label: str
    value: float | None  # the organization's number
    percentile: float | None
    median: float | None
    q1: float | None
    q3: float | None
    n: int | None  # None: fewer than five peers, nothing drawn


@dataclass(frozen=True)
class Words:
    title: str
    description: str
    band: str  # legend: the peers' middle half
    median: str  # legend: the peers' median
    mark: str  # legend: this organization
    hidden: str  # a bar without enough peers
    percentile: Callable[[str], str]  # "percentile 65"
    head: Sequence[str]  # table columns: dimension, value, percentile, median, q1, q3, n
    caption: str


def _legend(y: float, words: Words) -> str:
    x = 8.0
    parts = [
        el("rect", x=x, y=y - 10, width=22, height=12, fill=BAND, fill_opacity="0.3", stroke=BAND),
        text(x + 28, y, words.band),
    ]
    x2 = x + 34 + 6.6 * len(words.band)
    parts += [
        el("line", x1=x2 + 6, y1=y - 12, x2=x2 + 6, y2=y + 3, stroke=INK, stroke_width=2.5),
        text(x2 + 16, y, words.median),
    ]
    x3 = x2 + 26 + 6.6 * len(words.median)
    parts += [_diamond(x3 + 7, y - 4), text(x3 + 20, y, words.mark)]
    return "".join(parts)


def _diamond(x: float, y: float, r: float = 7.0) -> str:
    points = (
        f"{fmt(x)},{fmt(y - r)} {fmt(x + r)},{fmt(y)} {fmt(x)},{fmt(y + r)} {fmt(x - r)},{fmt(y)}"
    )
    return el("polygon", points=points, fill=MARK, stroke=INK, stroke_width=1.2)


def benchmark_chart(
    bars: Sequence[Bar],
    lo: float,
    hi: float,
    ticks: Sequence[float],
    words: Words,
    number: Callable[[float | None], str],
) -> Figure:
    """Bars on the scale [lo, hi], one per dimension, in the given order."""
    # narrow on purpose: a phone shows it at three quarters of its size, not half
    width, left, right, note_x = 480, 18, 330, 340
    top, row = 52, 48
    height = top + len(bars) * row + 26
    a, b = scale(lo, hi, left, right)
    parts = [_legend(22, words)]
    for t in ticks:
        x = a * t + b
        parts.append(el("line", x1=x, y1=float(top - 4), x2=x, y2=float(height - 24), stroke=GRID))
        parts.append(text(x, height - 8, number(t), text_anchor="middle", fill=MUTED))
    for i, bar in enumerate(bars):
        y = top + i * row
        note = (
            words.hidden
            if bar.n is None
            else f"{number(bar.value)} · {words.percentile(plain(bar.percentile, 0))}"
        )
        parts.append(text(left, y + 12, bar.label, font_weight="bold", font_size=13))
        parts.append(text(note_x, y + 33, note, fill=INK if bar.n is not None else MUTED))
        track_y = y + 20
        parts.append(
            el(
                "rect",
                x=float(left),
                y=float(track_y),
                width=float(right - left),
                height=16.0,
                fill=TRACK,
                stroke=GRID,
            )
        )
        if bar.n is None or bar.q1 is None or bar.q3 is None or bar.median is None:
            continue
        x1, x3 = a * bar.q1 + b, a * bar.q3 + b
        parts.append(
            el(
                "rect",
                x=x1,
                y=float(track_y),
                width=max(x3 - x1, 2.0),
                height=16.0,
                fill=BAND,
                fill_opacity="0.3",
                stroke=BAND,
            )
        )
        xm = a * bar.median + b
        parts.append(
            el(
                "line",
                x1=xm,
                y1=float(track_y - 3),
                x2=xm,
                y2=float(track_y + 19),
                stroke=INK,
                stroke_width=2.5,
            )
        )
        if bar.value is not None:
            parts.append(_diamond(a * bar.value + b, track_y + 8))
    rows = [
        [
            bar.label,
            number(bar.value),
            plain(bar.percentile, 0) if bar.n is not None else words.hidden,
            number(bar.median),
            number(bar.q1),
            number(bar.q3),
            str(bar.n) if bar.n is not None else "—",
        ]
        for bar in bars
    ]
    return Figure(
        words.title,
        words.description,
        width,
        height,
        "".join(parts),
        Table(words.caption, words.head, rows),
    )
