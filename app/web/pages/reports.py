"""An organization's comparison report (two rounds of one instrument), as a page and as a PDF.

Every number comes from ``services.analysis.compare_organization`` — the service behind
``GET /v1/organizations/{id}/comparison`` — read from its typed result (``OrgComparison``); the
rule's words come from ``analysis.improvement_rule``, the same function the API's JSON uses.
This module only arranges those numbers for people.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy.orm import Session
from starlette.responses import Response

from app.domain.comparison import Delta, OrgComparison
from app.domain.errors import Invalid
from app.domain.instrument import Instrument
from app.domain.rounding import half_even
from app.domain.score_model import Score
from app.services import analysis, benchmarks, ratings, verification
from app.services.assessment_records import AssessmentRecord, record_of
from app.services.benchmarks import Benchmark, Standing
from app.services.organizations import OrganizationView, read_organization
from app.services.plan_outcomes import PlanOutcome, outcome_between, plan_of_round
from app.services.rating_models import ItemDistribution, ScorePair, VerificationScores
from app.services.rounds import InstrumentRounds, default_pair, organization_rounds
from app.web.charts.compare import Pair, Words, paired_bars
from app.web.charts.series import axis_of
from app.web.charts.svg import Figure
from app.web.i18n import number
from app.web.kit import MemberDep, Page, PageRoute, db, render
from app.web.pdf import Paper_Q, chosen_paper, filename, pdf_response, render_pdf

router = APIRouter(route_class=PageRoute, include_in_schema=False)

MOVED = 8  # items that moved most, shown


@dataclass(frozen=True)
class Row:
    """One line of the comparison table: a dimension or an area (``level``) and its change."""

    title: str
    level: str
    delta: Delta


@dataclass(frozen=True)
class Weak:
    title: str
    dimension: str
    score: float


@dataclass(frozen=True)
class Note:
    title: str
    round: str
    text: str


@dataclass(frozen=True)
class Disagreement:
    """One round's raters, for the facilitator's roles only: how many, and the items the group
    disagreed on with their distribution (never a rater's own value)."""

    round: str
    raters: int
    flagged: list[tuple[str, ItemDistribution]]  # (item title, distribution)
    withheld: int  # items rated by fewer than three: no numbers


@dataclass(frozen=True)
class Verified:
    """One round's verification (OPI style): the self-score, the verified score and the gap,
    overall and per dimension, as ``services.verification`` computes them."""

    round: str
    scores: VerificationScores
    lines: list[tuple[str, ScorePair]]  # (title, pair): overall, then each dimension


@dataclass(frozen=True)
class PeerLine:
    title: str
    standing: Standing


@dataclass(frozen=True)
class OrgReport:
    organization: OrganizationView
    instrument: Instrument  # the version compared on
    instrument_title: str
    baseline: AssessmentRecord
    endline: AssessmentRecord
    comparison: OrgComparison
    rows: list[Row]
    lens: list[Row]
    weakest_baseline: list[Weak]
    weakest_endline: list[Weak]
    moved: list[tuple[str, Any]]  # (item title, ItemDelta)
    notes: list[Note]
    left_out: list[tuple[str, str]]  # items answered in one round only: (title, why)
    rule: str
    coverage: str
    versions: str
    figure: Figure
    digits: int
    made_on: date
    # the action plan made from the first round, closed against the second
    plan: PlanOutcome | None = None
    # where the second round stands among the workspace's peers (services.benchmarks)
    peers: Benchmark | None = None
    peer_lines: tuple[PeerLine, ...] = ()
    # the raters' disagreements, per round with raters (editors and admins only)
    disagreements: tuple[Disagreement, ...] = ()
    # each round's verification, where some item was verified
    verified: tuple[Verified, ...] = ()
    min_peers: int = benchmarks.MIN_PEERS


def score(value: float | None, digits: int = 2, *, signed: bool = False) -> str:
    """A score as the API shows it: half-even to 2 places at the edge (``domain.rounding``),
    then written for people; so the page, the PDF and the JSON show the same digits."""
    return number(None if value is None else half_even(value), digits, signed=signed)


def _weak(score: Score, titles: dict[str, dict[str, str]], page: Page) -> list[Weak]:
    return [
        Weak(page.text(titles.get(w.key, w.key)), page.text(titles.get(w.dimension, "")), w.score)
        for w in score.weakest
    ]


def _versions(page: Page, c: OrgComparison) -> str:
    """The instrument versions compared, and how answers were carried, in plain words."""
    if not c.cross_version:
        return page.t("report.rule.same_version", version=c.version)
    return page.t(
        "report.rule.cross_version",
        a=c.baseline_version,
        b=c.endline_version,
        version=c.version,
        n=c.comparable_items,
        excluded=len(c.excluded_items),
    )


def build_org_report(
    page: Page, org_id: uuid.UUID, instrument_id: str, first: str, last: str
) -> OrgReport:
    who = page.who
    with db(page) as session:
        org, first_row, last_row, c, instrument = analysis.compare_organization(
            session, who, page.catalog, org_id, instrument_id, first, last, None
        )
        organization = OrganizationView.of(org)
        a, b = record_of(first_row), record_of(last_row)
        titles = analysis.titles_of(instrument)
        notes = [
            Note(page.text(titles.get(x.item, x.item)), side.round, x.note)
            for side in (a, b)
            for x in side.answers
            if x.note and x.note.strip()
        ]
        plan = plan_of_round(session, first_row)
        plan_outcome = (
            outcome_between(session, page.catalog, first_row, plan, last_row) if plan else None
        )
        peers = benchmarks.benchmark(session, who, page.catalog, b.id)
        disagreements = (
            tuple(
                _disagreement(page, session, side, titles)
                for side in (a, b)
                if ratings.raters_of(session, side.id)
            )
            if who.can_write
            else ()
        )
        verified = tuple(
            v for side in (a, b) if (v := _verified(page, session, side, titles)) is not None
        )
    shown = [v for d in c.dimensions for v in (d.dimension.baseline, d.dimension.endline)]
    axis = axis_of(instrument, shown)
    lo, hi = axis.lo, axis.hi
    rows = [Row(page.text(analysis.OVERALL_TITLE), "overall", c.overall)]
    for d in c.dimensions:
        rows.append(
            Row(page.text(titles.get(d.dimension.key, d.dimension.key)), "dim", d.dimension)
        )
        rows += [Row(page.text(titles.get(x.key, x.key)), "area", x) for x in d.areas]
    lens = [
        Row(page.text(analysis.LENS_TITLES.get(x.key, x.key)), "lens", x)
        for x in c.lens
        if x.baseline is not None or x.endline is not None
    ]
    moving = [i for i in c.items if i.delta is not None and abs(i.delta) > 1e-9]
    moving.sort(key=lambda i: (-abs(i.delta or 0.0), i.key))
    rule = analysis.improvement_rule(instrument, c.threshold, c.lens_threshold)[page.lang]
    words = Words(
        page.t("report.chart.dimensions", a=a.round, b=b.round),
        page.t("report.chart.dimensions_desc", a=a.round, b=b.round, lo=f"{lo:g}", hi=f"{hi:g}"),
        a.round,
        b.round,
        page.t("report.col.dimension"),
    )
    figure = paired_bars(
        [
            Pair(
                page.text(titles.get(d.dimension.key, d.dimension.key)),
                d.dimension.baseline,
                d.dimension.endline,
            )
            for d in c.dimensions
        ],
        lo,
        hi,
        words,
    )
    return OrgReport(
        organization=organization,
        instrument=instrument,
        instrument_title=page.text(instrument.title),
        baseline=a,
        endline=b,
        comparison=c,
        rows=rows,
        lens=lens,
        weakest_baseline=_weak(c.baseline_score, titles, page),
        weakest_endline=_weak(c.endline_score, titles, page),
        moved=[(page.text(titles.get(i.key, i.key)), i) for i in moving[:MOVED]],
        notes=notes,
        left_out=[
            (page.text(titles.get(x.key, x.key)), x.es if page.lang == "es" else x.en)
            for x in c.left_out
        ],
        rule=rule.replace("`direction`", page.t("report.col.direction")),
        coverage=page.t("report.rule.coverage", pct=f"{c.endline_score.min_coverage * 100:g}"),
        versions=_versions(page, c),
        figure=figure,
        digits=2,
        made_on=date.today(),
        plan=plan_outcome,
        peers=peers,
        peer_lines=_peer_lines(page, peers, titles),
        disagreements=disagreements,
        verified=verified,
    )


def _verified(
    page: Page, session: Session, a: AssessmentRecord, titles: dict[str, dict[str, str]]
) -> Verified | None:
    scores = verification.verification(session, page.who, page.catalog, a.id).scores
    if scores is None:
        return None
    lines = [(page.text(analysis.OVERALL_TITLE), scores.overall)]
    lines += [(page.text(titles.get(d.key or "", d.key or "")), d) for d in scores.dimensions]
    return Verified(a.round, scores, lines)


def _disagreement(
    page: Page, session: Session, a: AssessmentRecord, titles: dict[str, dict[str, str]]
) -> Disagreement:
    found = ratings.summary(session, page.who, page.catalog, a.id)
    return Disagreement(
        a.round,
        len(found.raters),
        [(page.text(titles.get(x.item, x.item)), x) for x in found.items if x.disagreement],
        found.withheld,
    )


def _peer_lines(
    page: Page, b: Benchmark, titles: dict[str, dict[str, str]]
) -> tuple[PeerLine, ...]:
    if b.state != "shown" or b.overall is None:
        return ()
    lines = [PeerLine(page.t("peers.overall"), b.overall)]
    lines += [PeerLine(page.text(titles.get(s.key, s.key)), s) for s in b.dimensions]
    return tuple(lines)


def _choose(
    page: Page, org_id: uuid.UUID, instrument: str | None, first: str | None, last: str | None
) -> tuple[list[InstrumentRounds], tuple[str, str, str] | None]:
    with db(page) as session:
        found = organization_rounds(session, page.who, org_id)
    pair = default_pair(found, instrument or None)
    if pair is not None:
        pair = (pair[0], first or pair[1], last or pair[2])
    return found, pair


Instrument_Q = Annotated[str | None, Query(alias="instrument", max_length=40)]
From_Q = Annotated[str | None, Query(alias="from", max_length=64)]
To_Q = Annotated[str | None, Query(alias="to", max_length=64)]


@router.get("/organizations/{org_id}/report")
def org_report(
    org_id: uuid.UUID,
    page: MemberDep,
    instrument: Instrument_Q = None,
    first: From_Q = None,
    last: To_Q = None,
    paper: Paper_Q = None,
) -> Response:
    found, pair = _choose(page, org_id, instrument, first, last)
    report = build_org_report(page, org_id, *pair) if pair else None
    if report is None:
        with db(page) as session:
            name = read_organization(session, page.who, org_id).name
    else:
        name = report.organization.name
    return render(
        page,
        "report_org.html",
        title=page.t("report.org.title", name=name),
        subject=name,
        org_id=org_id,
        report=report,
        choices=found,
        paper=chosen_paper(page, paper),
        chosen=pair,
        score=score,
    )


@router.get("/organizations/{org_id}/report.pdf")
def org_report_pdf(
    org_id: uuid.UUID,
    page: MemberDep,
    instrument: Instrument_Q = None,
    first: From_Q = None,
    last: To_Q = None,
    paper: Paper_Q = None,
) -> Response:
    _, pair = _choose(page, org_id, instrument, first, last)
    if pair is None:
        raise Invalid(page.t("report.nothing"))
    report = build_org_report(page, org_id, *pair)
    content = render_pdf(
        page,
        "report_org_doc.html",
        paper,
        title=page.t("report.org.title", name=report.organization.name),
        report=report,
        made_on=report.made_on,
        score=score,
    )
    name = filename(report.organization.name, pair[0], pair[1], pair[2], page.lang)
    return pdf_response(page, content, name)
