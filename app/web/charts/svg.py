"""A tiny SVG writer for charts drawn on the server: pages work without JavaScript and PDFs carry
the charts as vector graphics.

Every chart is a ``Figure``: the SVG (with ``role="img"``, a ``<title>`` and a ``<desc>``) and the
data table that stands beside it, so a screen reader and a printed page get the numbers too. Chart
modules (``series``, ``compare``…) build figures from typed read models with these primitives.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape
from itertools import count

from markupsafe import Markup

# Colors that keep 4.5:1 contrast on white and stay apart for common color blindness
# (Okabe–Ito hues, darkened where needed).
PALETTE = ("#0b5cab", "#b35900", "#1e6b34", "#a4262c", "#5b3c8c", "#00707a", "#6b6b00")
INK = "#1c2430"
MUTED = "#4f5b6b"
GRID = "#d5dbe3"
FONT = "DejaVu Sans, Segoe UI, Roboto, Arial, sans-serif"

_ids = count(1)


def fmt(value: float) -> str:
    """A coordinate with two decimals at most, no trailing zeros (smaller SVG)."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def attrs(**values: object) -> str:
    parts = []
    for key, value in values.items():
        if value is None:
            continue
        name = key.rstrip("_").replace("_", "-")
        shown = fmt(value) if isinstance(value, float) else str(value)
        parts.append(f'{name}="{escape(shown, quote=True)}"')
    return " ".join(parts)


def el(tag: str, body: str = "", **values: object) -> str:
    inner = attrs(**values)
    opening = f"<{tag} {inner}" if inner else f"<{tag}"
    return f"{opening}>{body}</{tag}>" if body else f"{opening}/>"


def text(x: float, y: float, content: str, **values: object) -> str:
    values.setdefault("fill", INK)
    values.setdefault("font_size", 12)
    return el("text", escape(content), x=float(x), y=float(y), **values)


@dataclass(frozen=True)
class Table:
    """The numbers of a chart, shown beside it: a caption, column heads, rows of text cells."""

    caption: str
    head: Sequence[str]
    rows: Sequence[Sequence[str]]


@dataclass(frozen=True)
class Figure:
    title: str
    description: str
    width: int
    height: int
    body: str  # the SVG's drawing, without the <svg> element
    table: Table
    id: str = field(default_factory=lambda: f"chart-{next(_ids)}")

    def svg(self) -> Markup:
        title_id, desc_id = f"{self.id}-title", f"{self.id}-desc"
        head = el("title", escape(self.title), id=title_id) + el(
            "desc", escape(self.description), id=desc_id
        )
        return Markup(  # noqa: S704  (every text inside went through escape())
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {self.width} {self.height}" '
            f'width="{self.width}" height="{self.height}" role="img" '
            f'aria-labelledby="{title_id} {desc_id}" font-family="{FONT}">'
            f"{head}{self.body}</svg>"
        )


def scale(lo: float, hi: float, out_lo: float, out_hi: float) -> tuple[float, float]:
    """(a, b) so that a * v + b maps [lo, hi] onto [out_lo, out_hi]."""
    span = hi - lo or 1.0
    a = (out_hi - out_lo) / span
    return a, out_lo - a * lo
