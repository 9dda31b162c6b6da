"""Organizations: the searchable list, and one organization's page (profile, assessments by
instrument and round, its series over time, the four-lens profile and weakest areas of its
latest round).

The series is the one ``GET /v1/organizations/{id}/series`` sends (``analysis.series``) and the
latest round's numbers are its stored score object, rounded as the API rounds them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from itertools import groupby
from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from app.catalog import Catalog
from app.domain.instrument import Instrument, Method
from app.domain.rounding import half_even, rounded_numbers
from app.domain.score_object import ScoreObject, SeriesPoint, SeriesRead
from app.services import analysis, benchmarks, profiles
from app.services.common import encode_cursor
from app.services.profiles import RoundLine
from app.web import i18n
from app.web.charts.series import Line, SeriesChart, axis_of, series_chart
from app.web.kit import MemberDep, Page, PageRoute, db, render
from app.web.pages.benchmarks import PeerView, peer_view

router = APIRouter(route_class=PageRoute, include_in_schema=False)

PAGE_SIZE = 25
LENSES = ("management", "financing", "processes", "culture")


@router.get("/organizations")
def organizations(
    page: MemberDep,
    q: Annotated[str | None, Query(max_length=200)] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    q = (q or "").strip() or None
    with db(page) as session:
        lines, more = profiles.directory(session, page.who, q=q, limit=PAGE_SIZE, cursor=cursor)
    next_cursor = None
    if more and lines:
        last = lines[-1].org
        next_cursor = encode_cursor(last.created_at, last.id)
    return render(
        page,
        "organizations.html",
        title=page.t("orgs.title"),
        lines=lines,
        q=q or "",
        next_cursor=next_cursor,
        first_page=cursor is None,
    )


@dataclass(frozen=True)
class RoundGroup:
    round: str
    lines: list[RoundLine]


@dataclass(frozen=True)
class InstrumentGroup:
    instrument_id: str
    title: str
    rounds: list[RoundGroup]


def _groups(page: Page, catalog: Catalog, lines: list[RoundLine]) -> list[InstrumentGroup]:
    groups = []
    for instrument_id, of_instrument in groupby(lines, key=lambda a: a.instrument_id):
        found = catalog.latest(instrument_id)
        title = page.text(found.instrument.title) if found else instrument_id
        ordered = sorted(of_instrument, key=lambda a: (a.assessed_on, a.round, a.revision))
        rounds: dict[str, list[RoundLine]] = {}
        for a in ordered:
            shown = replace(a, overall=None if a.overall is None else half_even(a.overall))
            rounds.setdefault(a.round, []).append(shown)
        groups.append(
            InstrumentGroup(instrument_id, title, [RoundGroup(r, x) for r, x in rounds.items()])
        )
    return groups


def _chart(
    page: Page, instrument: Instrument, org_name: str, points: list[SeriesPoint]
) -> SeriesChart:
    rounds = [p.round for p in points]
    titles = {d.key: page.text(d.title) for d in instrument.dimensions}
    lines = [Line(page.t("org.overall"), [p.overall.score for p in points], strong=True)]
    keys = list(dict.fromkeys(d.key for p in points for d in p.dimensions))
    for key in keys:
        by_round = [{d.key: d.score for d in p.dimensions}.get(key) for p in points]
        lines.append(Line(titles.get(key, key), by_round))
    axis = axis_of(instrument, [v for line in lines for v in line.values])
    digits = 0 if instrument.scoring.method is Method.risk else 2

    def number(value: float | None) -> str:
        return i18n.number(value, digits)

    return series_chart(
        title=page.t("org.chart.title", org=org_name, instrument=page.text(instrument.title)),
        description=page.t(
            "org.chart.desc",
            n=len(rounds),
            lo=number(axis.lo),
            hi=number(axis.hi),
            first=rounds[0] if rounds else "",
            last=rounds[-1] if rounds else "",
        ),
        rounds=rounds,
        lines=lines,
        axis=axis,
        number=number,
        caption=page.t("org.chart.caption"),
        first_head=page.t("org.chart.measure"),
    )


def _lowest(page: Page, latest: ScoreObject | None) -> list[str]:
    """The titles of the areas whose answers all sit at the scale's lowest level."""
    if latest is None:
        return []
    titles = {a.key: a.title for d in latest.dimensions for a in d.areas}
    return [page.text(titles[k]) if k in titles else k for k in latest.lowest_level]


@router.get("/organizations/{org_id}")
def organization(
    org_id: uuid.UUID,
    page: MemberDep,
    instrument: Annotated[str | None, Query(max_length=40)] = None,
    peers_of: Annotated[benchmarks.Scope, Query(alias="peers")] = "workspace",
) -> Response:
    catalog = page.catalog
    with db(page) as session:
        found = profiles.profile(session, page.who, org_id)
        choices = found.instruments
        chosen = instrument if instrument in choices else (choices[0] if choices else None)
        series: SeriesRead | None = None
        latest: ScoreObject | None = None
        peers: PeerView | None = None
        if chosen is not None:
            series = SeriesRead.model_validate(
                rounded_numbers(analysis.series(session, page.who, org_id, chosen))
            )
            if series.points:
                last_id = uuid.UUID(series.points[-1].assessment_id)
                latest = profiles.stored_score(session, page.who, last_id)
                peers = peer_view(page, session, catalog, found.org.name, last_id, peers_of)
    file = catalog.latest(chosen) if chosen else None
    chart = None
    if file is not None and series is not None and series.points:
        chart = _chart(page, file.instrument, found.org.name, series.points)
    return render(
        page,
        "organization.html",
        title=found.org.name,
        profile=found,
        groups=_groups(page, catalog, found.assessments),
        instrument_titles={
            i: page.text(f.instrument.title) if (f := catalog.latest(i)) else i for i in choices
        },
        chosen=chosen,
        chart=chart,
        latest=latest,
        lowest=_lowest(page, latest),
        latest_point=series.points[-1] if series and series.points else None,
        lenses=LENSES,
        peers=peers,
        risk_method=bool(file and file.instrument.scoring.method is Method.risk),
    )
