"""One assessment: its explained score tree (dimension → area → item), the overall with its
notes, NUPAS risk by section with the recommended conditions, and its downloads.

The numbers are the stored score object the API sends (``GET /v1/assessments/{id}/scores``),
joined here with the instrument (titles, scale labels, weights) and the answers (values, notes);
a draft has answers but no score yet. The downloads call the same export services as the API's
``/v1/assessments/{id}/export.xlsx`` and ``template.xlsx``, through the signed-in session.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from fastapi import APIRouter
from starlette.responses import Response

from app.domain.errors import Invalid
from app.domain.instrument import Instrument, Method
from app.domain.score_object import DimensionRead, NodeRead, ScorePayload
from app.domain.scoring import NA, AnswerValue
from app.services import exports, profiles
from app.web.kit import MemberDep, Page, PageRoute, db, download, render
from app.web.pages.evidence import evidence_section
from app.web.pages.plans import plan_section
from app.web.pages.ratings import ratings_section, verification_section
from app.web.pdf import Paper, Paper_Q, chosen_paper, pdf_response, render_pdf
from app.web.pdf import filename as pdf_filename

router = APIRouter(route_class=PageRoute, include_in_schema=False)


@dataclass(frozen=True)
class ItemRow:
    key: str
    text: str
    value: float | None
    label: str | None  # the scale's label for the answer
    na: bool
    missing: bool
    note: str | None
    weight: float
    key_question: bool


@dataclass(frozen=True)
class AreaNode:
    key: str
    title: str
    weight: float
    score: NodeRead | None  # the area of the score object
    items: list[ItemRow]


@dataclass(frozen=True)
class DimensionNode:
    key: str
    title: str
    weight: float
    score: DimensionRead | None
    areas: list[AreaNode]


def _item(
    page: Page,
    instrument: Instrument,
    item: Any,
    answers: dict[str, AnswerValue],
    notes: dict[str, str],
) -> ItemRow:
    value = answers.get(item.key)
    number = None if value is None or value is NA else float(value)  # type: ignore[arg-type]
    found = None if number is None else instrument.scales[item.scale].by_value(number)
    return ItemRow(
        key=item.key,
        text=page.text(item.text),
        value=number,
        label=page.text(found.label) if found else None,
        na=value is NA,
        missing=value is None,
        note=notes.get(item.key),
        weight=item.weight,
        key_question=item.key_question,
    )


def score_tree(
    page: Page,
    instrument: Instrument,
    answers: dict[str, AnswerValue],
    notes: dict[str, str],
    score: ScorePayload | None,
) -> list[DimensionNode]:
    """The instrument's tree with each node's part of the score object and each item's answer."""
    dims = {d.key: d for d in score.dimensions} if score else {}
    tree = []
    for d in instrument.dimensions:
        scored = dims.get(d.key)
        areas_of = {a.key: a for a in scored.areas} if scored else {}
        areas = [
            AreaNode(
                a.key,
                page.text(a.title),
                a.weight,
                areas_of.get(a.key),
                [_item(page, instrument, i, answers, notes) for i in a.items],
            )
            for a in d.areas
        ]
        tree.append(DimensionNode(d.key, page.text(d.title), d.weight, scored, areas))
    return tree


def _names(page: Page, instrument: Instrument) -> Callable[[Sequence[str]], str]:
    """Dimension and area keys named by their titles, for sentences such as "driven by …"."""
    found = {d.key: page.text(d.title) for d in instrument.dimensions}
    found.update({a.key: page.text(a.title) for d in instrument.dimensions for a in d.areas})
    return lambda keys: ", ".join(found.get(k, k) for k in keys)


def _values(page: Page, assessment_id: uuid.UUID) -> dict[str, Any]:
    """What the assessment's page and its PDF show (one read, one score tree)."""
    with db(page) as session:
        view = profiles.assessment_view(session, page.who, page.catalog, assessment_id)
    a = view.assessment
    instrument = view.file.instrument
    tree = score_tree(page, instrument, view.answers, view.notes, view.score)
    weighted = instrument.scoring.method is Method.weighted_mean or any(
        w != 1
        for d in tree
        for w in (
            d.weight,
            *(x.weight for x in d.areas),
            *(i.weight for x in d.areas for i in x.items),
        )
    )
    return {
        "title": f"{view.org.name} — {a.round}",
        "view": view,
        "a": a,
        "instrument_title": page.text(instrument.title),
        "tree": tree,
        "score": view.score,
        "risk": view.score.risk if view.score else None,
        "names": _names(page, instrument),
        "weighted": weighted,
        "risk_method": instrument.scoring.method is Method.risk,
        "can_edit": page.can_write and a.status == "draft",
    }


@router.get("/assessments/{assessment_id}")
def assessment(assessment_id: uuid.UUID, page: MemberDep) -> Response:
    values = _values(page, assessment_id)
    with db(page) as session:
        values["plan_view"] = plan_section(page, session, values["a"])
        values["ratings_view"] = ratings_section(page, session, values["a"])
        values["verification_view"] = verification_section(page, session, values["a"])
        values["evidence_view"] = evidence_section(page, session, values["a"])
    default = chosen_paper(page, None)
    other = Paper.LETTER if default is Paper.A4 else Paper.A4
    return render(page, "assessment.html", other_paper=other.value, **values)


@router.get("/assessments/{assessment_id}/report.pdf")
def assessment_pdf(assessment_id: uuid.UUID, page: MemberDep, paper: Paper_Q = None) -> Response:
    values = _values(page, assessment_id)
    if values["score"] is None:
        raise Invalid(page.t("asmt.not_scored"))
    a = values["a"]
    content = render_pdf(page, "assessment_doc.html", paper, made_on=date.today(), **values)
    name = pdf_filename(values["view"].org.name, a.instrument_id, a.round, page.lang)
    return pdf_response(page, content, name)


@router.get("/assessments/{assessment_id}/export.xlsx")
def assessment_export(assessment_id: uuid.UUID, page: MemberDep) -> Response:
    with db(page) as session:
        name, data = exports.assessment_workbook(
            session, page.who, page.catalog, assessment_id, page.lang
        )
    return download(page, name, data)


@router.get("/assessments/{assessment_id}/template.xlsx")
def assessment_template(assessment_id: uuid.UUID, page: MemberDep) -> Response:
    with db(page) as session:
        name, data = exports.assessment_as_template(
            session, page.who, page.catalog, assessment_id, page.lang
        )
    return download(page, name, data)
