"""The "Compared with peers" section of the organization page: the same read model as
``GET /v1/assessments/{id}/benchmark`` (``services.benchmarks``), drawn as one bar per
dimension (``charts.benchmark``) with the overall and the lenses in a table."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.orm import Session

from app.catalog import Catalog
from app.domain.rounding import half_even
from app.services import benchmarks
from app.services.benchmarks import Benchmark, Standing
from app.web import i18n
from app.web.charts.benchmark import Bar, Words, benchmark_chart
from app.web.charts.series import axis_of
from app.web.charts.svg import Figure
from app.web.kit import Page


@dataclass(frozen=True)
class Line:
    label: str
    standing: Standing


@dataclass(frozen=True)
class PeerView:
    result: Benchmark
    figure: Figure | None
    lines: list[Line]  # the overall and the lenses
    higher_is_better: bool
    n: int | None
    shares: bool  # the workspace shares its scores: it may look at the shared peers
    min_peers: int = benchmarks.MIN_PEERS


def _rounded(s: Standing) -> Standing:
    def r(v: float | None) -> float | None:
        return None if v is None else half_even(v)

    return Standing(s.key, r(s.value), s.n, r(s.percentile), r(s.median), r(s.q1), r(s.q3))


def peer_view(
    page: Page,
    session: Session,
    catalog: Catalog,
    org_name: str,
    assessment_id: uuid.UUID,
    scope: benchmarks.Scope,
) -> PeerView:
    """The benchmark of the organization's latest round, ready for ``benchmark.html``."""
    result = benchmarks.benchmark(session, page.who, catalog, assessment_id, scope)
    shares = benchmarks.sharing(session, page.who)
    instrument = result.instrument
    if result.state != "shown" or instrument is None or result.overall is None:
        return PeerView(result, None, [], benchmarks.higher_is_better(instrument), None, shares)
    titles = {d.key: page.text(d.title) for d in instrument.dimensions}
    dims = [_rounded(s) for s in result.dimensions]
    axis = axis_of(instrument, [v for s in dims for v in (s.value, s.q1, s.q3)])
    digits = 0 if not benchmarks.higher_is_better(instrument) else 2

    def number(value: float | None) -> str:
        return i18n.number(value, digits)

    words = Words(
        title=page.t("peers.chart.title", org=org_name),
        description=page.t("peers.chart.desc", lo=number(axis.lo), hi=number(axis.hi)),
        band=page.t("peers.band"),
        median=page.t("peers.median"),
        mark=page.t("peers.mark"),
        hidden=page.t("peers.hidden", min=benchmarks.MIN_PEERS),
        percentile=lambda p: page.t("peers.percentile_short", p=p),
        head=[
            page.t(k)
            for k in (
                "peers.col.measure",
                "peers.col.value",
                "peers.col.percentile",
                "peers.col.median",
                "peers.col.q1",
                "peers.col.q3",
                "peers.col.n",
            )
        ],
        caption=page.t("peers.chart.caption"),
    )
    bars = [
        Bar(titles.get(s.key, s.key), s.value, s.percentile, s.median, s.q1, s.q3, s.n)
        for s in dims
    ]
    figure = benchmark_chart(bars, axis.lo, axis.hi, axis.ticks, words, number)
    lines = [Line(page.t("peers.overall"), _rounded(result.overall))]
    lines += [Line(page.t("org.lens." + s.key), _rounded(s)) for s in result.lens]
    return PeerView(
        result, figure, lines, benchmarks.higher_is_better(instrument), result.overall.n, shares
    )
