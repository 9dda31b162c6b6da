"""Cohorts: the list, one cohort's page, and its comparison report for a donor (page and PDF).

The report's numbers come from ``services.cohort_comparison.compare_cohort_rounds`` — the service
behind ``GET /v1/cohorts/{id}/comparison`` — read from its typed ``CohortResult``; the rule's words
from ``analysis.improvement_rule``. The anonymized form replaces every organization by a code
(ORG-01…) before anything reaches the template, so no name can leak into a table or a note.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from app.domain.cohort import KeyStats
from app.domain.errors import Invalid
from app.domain.rounding import shown_change
from app.services import analysis
from app.services.cohort_comparison import CohortResult, RoundsAsked, compare_cohort_rounds
from app.services.common import latest_assessment_date
from app.services.organizations import get_cohort, list_cohorts, list_organizations
from app.services.plan_outcomes import CohortPlanOutcomes, cohort_actions, cohort_plan_outcomes
from app.services.rounds import cohort_rounds, default_pair
from app.web.charts.compare import Pair, Words, distribution, paired_bars
from app.web.charts.series import axis_of
from app.web.charts.svg import Figure
from app.web.kit import MemberDep, Page, PageRoute, db, render
from app.web.pages.reports import From_Q, Instrument_Q, To_Q, score
from app.web.pdf import Paper_Q, chosen_paper, filename, pdf_response, render_pdf

router = APIRouter(route_class=PageRoute, include_in_schema=False)

MEMBERS_SHOWN = 500


@router.get("/cohorts")
def cohorts(page: MemberDep) -> Response:
    with db(page) as session:
        rows, more = list_cohorts(session, page.who, limit=500, cursor=None)
    counts = {c.id: c.members for c in rows}
    rows.sort(key=lambda c: c.name.lower())
    return render(
        page, "cohorts.html", title=page.t("cohort.list"), cohorts=rows, counts=counts, more=more
    )


@router.get("/cohorts/{cohort_id}")
def cohort(cohort_id: uuid.UUID, page: MemberDep) -> Response:
    with db(page) as session:
        found = get_cohort(session, page.who, cohort_id)
        members, more = list_organizations(
            session, page.who, limit=MEMBERS_SHOWN, cursor=None, cohort_id=found.id
        )
        rounds = cohort_rounds(session, page.who, found.id)
        actions = cohort_actions(session, page.who, found.id, True, latest_assessment_date())
    members.sort(key=lambda o: o.name.lower())
    return render(
        page,
        "cohort.html",
        title=found.name,
        cohort=found,
        members=members,
        more=more,
        rounds=rounds,
        overdue=actions.actions,
        needs=actions.areas[:NEEDS_SHOWN],
        area_title=_area_titles(page),
    )


NEEDS_SHOWN = 10


def _area_titles(page: Page) -> Callable[[str, str], str]:
    """An area's title in the page's language, from the newest version of its instrument."""
    catalog = page.catalog

    def title(instrument_id: str, key: str) -> str:
        f = catalog.latest(instrument_id)
        if f is None:
            return key
        areas = (a for d in f.instrument.dimensions for a in d.areas if a.key == key)
        area = next(areas, None)
        return page.text(area.title) if area else key

    return title


@dataclass(frozen=True)
class OrgLine:
    """One organization's overall at both rounds, as shown (a name or a code)."""

    shown: str
    organization_id: str | None  # None in the anonymized form: no link to a named page
    baseline: float | None
    endline: float | None
    change: float | None
    outcome: str | None


@dataclass(frozen=True)
class KeyLine:
    title: str
    stats: KeyStats


@dataclass(frozen=True)
class CohortReport:
    result: CohortResult
    instrument_title: str
    anonymized: bool
    members: int
    overall: KeyStats
    keys: list[KeyLine]
    organizations: list[OrgLine]
    left_out: list[tuple[str, str]]  # (organization shown, why)
    notes: list[str]
    rule: str
    coverage: str
    figures: list[Figure]
    made_on: date
    # the plans made from the first round, closed against the second
    plans: CohortPlanOutcomes | None = None


def _shown(r: CohortResult, anonymized: bool) -> dict[str, str]:
    """Each member's name, or in the anonymized form a code in an order unrelated to names."""
    if not anonymized:
        return dict(r.names)
    width = max(2, len(str(len(r.names))))
    return {oid: f"ORG-{i:0{width}d}" for i, oid in enumerate(sorted(r.names), start=1)}


def _left_out(page: Page, r: CohortResult, shown: dict[str, str]) -> list[tuple[str, str]]:
    c = r.comparison
    overall = c.keys[0]
    out: list[tuple[str, str]] = []
    reasons = [
        (set(r.not_comparable), "report.why.version"),
        (set(c.only_baseline), "report.why.only_baseline"),
        (set(c.only_endline), "report.why.only_endline"),
        (set(c.organizations_with_both) - set(overall.paired), "report.why.coverage"),
    ]
    placed: set[str] = set()
    for ids, key in reasons:
        for oid in sorted(ids - placed, key=lambda o: shown[o]):
            out.append((shown[oid], page.t(key, a=r.baseline, b=r.endline)))
            placed.add(oid)
    for oid in sorted(set(r.names) - placed - set(overall.paired), key=lambda o: shown[o]):
        out.append((shown[oid], page.t("report.why.neither", a=r.baseline, b=r.endline)))
    return out


def build_cohort_report(
    page: Page, cohort_id: uuid.UUID, instrument_id: str, first: str, last: str, anonymized: bool
) -> CohortReport:
    catalog = page.catalog
    with db(page) as session:
        asked = RoundsAsked(cohort_id, instrument_id, first, last)
        r = compare_cohort_rounds(session, page.who, catalog, asked)
        paired = [
            (s[r.baseline].assessment_id, s[r.endline].assessment_id)
            for s in r.sides.values()
            if r.baseline in s and r.endline in s
        ]
        plans = cohort_plan_outcomes(session, catalog, paired)
    instrument = r.instrument.instrument
    titles = analysis.titles_of(instrument)
    shown = _shown(r, anonymized)
    c = r.comparison
    overall = c.keys[0]
    by_id = {p.organization_id: p for p in r.pairs}
    outcome = {o: "improved" for o in overall.change.improved}
    outcome.update({o: "declined" for o in overall.change.declined})
    outcome.update({o: "unchanged" for o in overall.change.unchanged})
    lines = []
    for oid in sorted(r.names, key=lambda o: shown[o].lower()):
        p = by_id[oid]
        b, e = p.baseline.get("overall"), p.endline.get("overall")
        lines.append(
            OrgLine(
                shown[oid],
                None if anonymized else oid,
                b,
                e,
                shown_change(b, e) if b is not None and e is not None else None,
                outcome.get(oid),
            )
        )
    notes = [
        page.t("report.note.left_items", org=shown[p.organization_id], n=len(p.left_out))
        for p in sorted(r.pairs, key=lambda p: shown[p.organization_id])
        if p.left_out
    ]
    if r.rescored:
        names = ", ".join(sorted(shown[o] for o in r.rescored))
        notes.append(page.t("report.note.rescored", orgs=names, version=instrument.version))
    keys = [KeyLine(page.text(titles.get(k.key, k.key)), k) for k in c.keys]
    dims = keys[1:]
    means = [k.stats.paired_baseline.mean for k in dims] + [
        k.stats.paired_endline.mean for k in dims
    ]
    axis = axis_of(instrument, means)
    lo, hi = axis.lo, axis.hi
    bars = paired_bars(
        [Pair(k.title, k.stats.paired_baseline.mean, k.stats.paired_endline.mean) for k in dims],
        lo,
        hi,
        Words(
            page.t("report.chart.cohort_means", a=r.baseline, b=r.endline),
            page.t("report.chart.cohort_means_desc", a=r.baseline, b=r.endline),
            r.baseline,
            r.endline,
            page.t("report.col.dimension"),
        ),
    )
    dist = distribution(
        [label for label, _, _ in overall.paired_baseline.distribution],
        [n for _, n, _ in overall.paired_baseline.distribution],
        [n for _, n, _ in overall.paired_endline.distribution],
        Words(
            page.t("report.chart.distribution", a=r.baseline, b=r.endline),
            page.t("report.chart.distribution_desc", a=r.baseline, b=r.endline),
            r.baseline,
            r.endline,
            page.t("report.col.band"),
        ),
    )
    rule = analysis.improvement_rule(instrument, c.threshold)[page.lang]
    return CohortReport(
        result=r,
        instrument_title=page.text(instrument.title),
        anonymized=anonymized,
        members=len(r.names),
        overall=overall,
        keys=keys,
        organizations=lines,
        left_out=_left_out(page, r, shown),
        notes=notes,
        rule=rule.replace("`direction`", page.t("report.col.direction")),
        coverage=page.t("report.rule.coverage", pct=f"{instrument.scoring.min_coverage * 100:g}"),
        figures=[dist, bars],
        made_on=date.today(),
        plans=plans if plans.organizations else None,
    )


def _choose(
    page: Page, cohort_id: uuid.UUID, instrument: str | None, first: str | None, last: str | None
) -> tuple[str, object, list[object], tuple[str, str, str] | None]:
    with db(page) as session:
        found = get_cohort(session, page.who, cohort_id)
        rounds = cohort_rounds(session, page.who, found.id)
    pair = default_pair(rounds, instrument or None)
    if pair is not None:
        pair = (pair[0], first or pair[1], last or pair[2])
    return found.name, found.id, list(rounds), pair


Anonymized_Q = Annotated[bool, Query(alias="anonymized")]


@router.get("/cohorts/{cohort_id}/report")
def cohort_report(
    cohort_id: uuid.UUID,
    page: MemberDep,
    instrument: Instrument_Q = None,
    first: From_Q = None,
    last: To_Q = None,
    anonymized: Anonymized_Q = False,
    paper: Paper_Q = None,
) -> Response:
    name, _, rounds, pair = _choose(page, cohort_id, instrument, first, last)
    report = build_cohort_report(page, cohort_id, *pair, anonymized) if pair else None
    return render(
        page,
        "report_cohort.html",
        title=page.t("report.cohort.title", name=name),
        subject=name,
        cohort_id=cohort_id,
        report=report,
        choices=rounds,
        paper=chosen_paper(page, paper),
        chosen=pair,
        anonymized=anonymized,
        score=score,
    )


@router.get("/cohorts/{cohort_id}/report.pdf")
def cohort_report_pdf(
    cohort_id: uuid.UUID,
    page: MemberDep,
    instrument: Instrument_Q = None,
    first: From_Q = None,
    last: To_Q = None,
    anonymized: Anonymized_Q = False,
    paper: Paper_Q = None,
) -> Response:
    name, _, _, pair = _choose(page, cohort_id, instrument, first, last)
    if pair is None:
        raise Invalid(page.t("report.nothing"))
    report = build_cohort_report(page, cohort_id, *pair, anonymized)
    content = render_pdf(
        page,
        "report_cohort_doc.html",
        paper,
        title=page.t("report.cohort.title", name=name),
        subject=name,
        report=report,
        made_on=report.made_on,
        score=score,
    )
    tail = "anon" if anonymized else ""
    return pdf_response(page, content, filename(name, pair[0], pair[1], pair[2], tail, page.lang))
