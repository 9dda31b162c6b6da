"""Charts of comparison reports: two rounds side by side.

``paired_bars``: one pair of horizontal bars per dimension (baseline, endline), the number at the
end of each bar; ``distribution``: how many organizations fall in each band of the overall score at
both rounds. Both return a ``Figure`` (SVG + the data table beside it), so the HTML page and the
PDF carry the same vector drawing and the same numbers. Texts come in already translated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from app.domain.rounding import half_even
from app.web.charts.svg import GRID, INK, MUTED, PALETTE, Figure, Table, el, fmt, scale, text
from app.web.i18n import number

BASE, END = PALETTE[1], PALETTE[0]  # baseline orange, endline blue: apart for color blindness


@dataclass(frozen=True)
class Pair:
    label: str
    baseline: float | None
    endline: float | None


@dataclass(frozen=True)
class Words:
    """The translated texts a chart needs."""

    title: str
    description: str
    baseline: str  # the first round's label, e.g. "baseline"
    endline: str
    category: str  # head of the first table column
    none: str = "—"


def _legend(x: float, y: float, words: Words) -> str:
    out = []
    for i, (label, color) in enumerate(((words.baseline, BASE), (words.endline, END))):
        cx = x + i * 170
        out.append(el("rect", x=float(cx), y=float(y - 10), width=12, height=12, fill=color))
        out.append(text(cx + 18, y, label, fill=INK))
    return "".join(out)


def wrap(label: str, width: int = 28, lines: int = 2) -> list[str]:
    """A category name in at most ``lines`` lines of about ``width`` characters (… if cut)."""
    out: list[str] = []
    for word in label.split():
        if out and len(out[-1]) + 1 + len(word) <= width:
            out[-1] += " " + word
        else:
            out.append(word)
    if len(out) > lines:
        out = out[:lines]
        out[-1] = out[-1][: width - 1] + "…"
    return [x if len(x) <= width else x[: width - 1] + "…" for x in out]


def _label(value: float | None, digits: int) -> str:
    return "—" if value is None else number(half_even(value), digits)


def paired_bars(
    pairs: Sequence[Pair], lo: float, hi: float, words: Words, digits: int = 2
) -> Figure:
    """Baseline and endline bars per category on the scale [lo, hi]."""
    label_w, width, bar, gap = 190, 640, 13, 14
    top = 34
    height = top + len(pairs) * (2 * bar + gap) + 28
    a, b = scale(lo, hi, label_w, width - 52)
    parts = [_legend(label_w, 16, words)]
    # grid: one line per whole scale step (at most 10)
    step = max(1.0, (hi - lo) / 10)
    v = lo
    while v <= hi + 1e-9:
        gx = a * v + b
        y2 = height - 22
        parts.append(el("line", x1=gx, x2=gx, y1=float(top - 4), y2=float(y2), stroke=GRID))
        parts.append(text(gx, height - 8, fmt(v), fill=MUTED, text_anchor="middle", font_size=11))
        v += step
    for i, p in enumerate(pairs):
        y = top + i * (2 * bar + gap)
        names = wrap(p.label)
        first = y + bar + 4 - 6 * (len(names) - 1)
        for k, name in enumerate(names):
            parts.append(text(label_w - 8, first + 12 * k, name, text_anchor="end", font_size=11))
        for j, (value, color) in enumerate(((p.baseline, BASE), (p.endline, END))):
            yy = float(y + j * bar)
            if value is None:
                parts.append(text(label_w + 4, yy + bar - 3, words.none, fill=MUTED, font_size=10))
                continue
            x1 = a * max(lo, min(hi, value)) + b
            w = max(1.0, x1 - label_w)
            parts.append(el("rect", x=float(label_w), y=yy, width=w, height=bar - 2, fill=color))
            parts.append(text(x1 + 4, yy + bar - 3, _label(value, digits), font_size=10))
    table = Table(
        words.title,
        (words.category, words.baseline, words.endline),
        [(p.label, _label(p.baseline, digits), _label(p.endline, digits)) for p in pairs],
    )
    return Figure(words.title, words.description, width, height, "".join(parts), table)


def distribution(
    bins: Sequence[str], baseline: Sequence[int], endline: Sequence[int], words: Words
) -> Figure:
    """Organizations per band of a score at both rounds (grouped vertical bars)."""
    width, height, left, bottom, top = 640, 260, 44, 40, 34
    most = max([*baseline, *endline, 1])
    ay, by = scale(0, most, height - bottom, top)
    slot = (width - left - 10) / max(1, len(bins))
    bw = min(36.0, slot / 2 - 6)
    parts = [_legend(left, 16, words)]
    step = max(1, -(-most // 5))  # whole organizations, at most about six lines
    ticks = list(range(0, most + 1, step))
    for t in ticks:
        gy = ay * t + by
        parts.append(el("line", x1=float(left), x2=float(width - 10), y1=gy, y2=gy, stroke=GRID))
        parts.append(text(left - 6, gy + 4, str(t), fill=MUTED, text_anchor="end", font_size=11))
    for i, label in enumerate(bins):
        cx = left + slot * i + slot / 2
        for j, (n, color) in enumerate(((baseline[i], BASE), (endline[i], END))):
            x = cx - bw - 1 + j * (bw + 2)
            y = ay * n + by
            h = (height - bottom) - y
            if n:
                parts.append(el("rect", x=x, y=y, width=bw, height=h, fill=color))
            parts.append(text(x + bw / 2, y - 4, str(n), text_anchor="middle", font_size=10))
        parts.append(
            text(cx, height - bottom + 16, label, fill=INK, text_anchor="middle", font_size=11)
        )
    table = Table(
        words.title,
        (words.category, words.baseline, words.endline),
        [(label, str(baseline[i]), str(endline[i])) for i, label in enumerate(bins)],
    )
    return Figure(words.title, words.description, width, height, "".join(parts), table)
