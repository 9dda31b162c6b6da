"""One organization over time (DESIGN §6): its series of scored assessments of an instrument and
the comparison of two of them, read from stored scores and answers; and what every comparison
says in words (the titles of what it compares, the improvement rule), which the cohort comparison
(``cohort_comparison``) shares."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import and_, bindparam, literal, select
from sqlalchemy.orm import Session

from app.catalog import Catalog, InstrumentFile
from app.db.driver import DriverQuery
from app.db.models import Assessment, AssessmentScore, Organization
from app.domain.comparison import Delta, LeftOut, OrgComparison, compare_assessments
from app.domain.enums import SCORED
from app.domain.errors import Conflict, Invalid, NotFound
from app.domain.instrument import Instrument, Method
from app.domain.scoring import NA
from app.services.assessment_reads import answers_of, get_assessment
from app.services.keys import Principal
from app.services.organizations import get_organization


def series(
    session: Session, principal: Principal, org_id: uuid.UUID, instrument_id: str
) -> dict[str, Any]:
    """The organization's scored assessments of one instrument in date order."""
    rows = _SERIES.all(
        session.connection(),
        {"org_id": org_id, "workspace_id": principal.workspace_id, "instrument_id": instrument_id},
    )
    if not rows:  # no such organization in this workspace: exactly as absent as another's
        raise NotFound(f"organization {org_id} does not exist")
    points = []
    for a_id, round_label, assessed_on, status, revision, retro, version, p in rows:
        if p is None:  # the organization's row when it has no scored assessment
            continue
        points.append(
            {
                "assessment_id": str(a_id),
                "round": round_label,
                "assessed_on": assessed_on.isoformat(),
                "status": status,
                "revision": revision,
                "retrospective": retro,
                "instrument_version": version,
                "overall": p["overall"],
                "dimensions": [
                    {
                        "key": d["key"],
                        "score": d["score"],
                        "coverage": d["coverage"],
                        "areas": [{"key": x["key"], "score": x["score"]} for x in d["areas"]],
                    }
                    for d in p["dimensions"]
                ],
                "lens": {k: v["score"] for k, v in p["lens"].items()},
                "risk": (p.get("risk") or {}).get("overall"),
            }
        )
    return {"organization_id": str(org_id), "instrument_id": instrument_id, "points": points}


# One indexed query, built once: the organization (the workspace check) with its scored current
# assessments of the instrument, if any, and their stored scores; straight to the driver
# (app.db.driver).
_SERIES = DriverQuery(
    select(
        Assessment.id,
        Assessment.round,
        Assessment.assessed_on,
        Assessment.status,
        Assessment.revision,
        Assessment.retrospective,
        Assessment.instrument_version,
        AssessmentScore.payload,
    )
    .select_from(Organization)
    .outerjoin(
        Assessment,
        and_(
            Assessment.organization_id == Organization.id,
            Assessment.workspace_id == Organization.workspace_id,
            Assessment.instrument_id == bindparam("instrument_id"),
            Assessment.is_current.is_(True),
            Assessment.status.in_([literal(status) for status in SCORED]),
        ),
    )
    .outerjoin(AssessmentScore, AssessmentScore.assessment_id == Assessment.id)
    .where(
        Organization.id == bindparam("org_id"),
        Organization.workspace_id == bindparam("workspace_id"),
    )
    .order_by(Assessment.assessed_on, Assessment.created_at)
)


def _pick(
    session: Session, principal: Principal, org_id: uuid.UUID, instrument_id: str, ref: str
) -> Assessment:
    """An assessment of this organization by id, or by round label (its current revision)."""
    try:
        ref_id = uuid.UUID(ref)
    except ValueError:
        found = session.scalar(
            select(Assessment)
            .where(
                Assessment.workspace_id == principal.workspace_id,
                Assessment.organization_id == org_id,
                Assessment.instrument_id == instrument_id,
                Assessment.round == ref,
                Assessment.status.in_(SCORED),
            )
            .order_by(Assessment.revision.desc())
            .limit(1)
        )
        if found is None:
            raise NotFound(
                f"no submitted {instrument_id} assessment for round '{ref}' of this organization"
            ) from None
        return found
    a = get_assessment(session, principal, ref_id)
    if a.organization_id != org_id or a.instrument_id != instrument_id:
        raise NotFound(f"assessment {ref} is not a {instrument_id} assessment of this organization")
    if a.status not in SCORED:
        raise Conflict(
            f"assessment {ref} is a {a.status}; only submitted or final assessments are compared",
            status_now=a.status,
        )
    return a


def _file(catalog: Catalog, a: Assessment) -> InstrumentFile:
    f = catalog.get(a.instrument_id, a.instrument_version)
    if f is None:
        raise NotFound(f"instrument {a.instrument_id} {a.instrument_version} is not loaded")
    return f


def compare_organization(
    session: Session,
    principal: Principal,
    catalog: Catalog,
    org_id: uuid.UUID,
    instrument_id: str,
    baseline: str,
    endline: str,
    threshold: float | None,
) -> tuple[Organization, Assessment, Assessment, OrgComparison, Instrument]:
    org = get_organization(session, principal, org_id)
    a = _pick(session, principal, org.id, instrument_id, baseline)
    b = _pick(session, principal, org.id, instrument_id, endline)
    fa, fb = _file(catalog, a), _file(catalog, b)
    try:
        newer = (
            fa
            if fa.instrument.supersedes
            and (fa.instrument.supersedes.version == fb.instrument.version)
            else fb
        )
        result = compare_assessments(
            baseline_instrument=fa.instrument,
            endline_instrument=fb.instrument,
            compiled=newer.compiled,
            baseline_answers=answers_of(a),
            endline_answers=answers_of(b),
            threshold=threshold,
        )
    except ValueError as exc:
        raise Invalid(str(exc)) from None
    return org, a, b, result, newer.instrument


OVERALL_TITLE = {"en": "Overall", "es": "General"}
LENS_TITLES = {
    "management": {"en": "Management", "es": "Gestión"},
    "financing": {"en": "Financing", "es": "Financiamiento"},
    "processes": {"en": "Processes", "es": "Procesos"},
    "culture": {"en": "Culture", "es": "Cultura"},
}


def titles_of(instrument: Instrument) -> dict[str, dict[str, str]]:
    """Every key a comparison names (overall, dimensions, areas, items) -> its title in en/es."""
    out: dict[str, dict[str, str]] = {"overall": OVERALL_TITLE}
    for d in instrument.dimensions:
        out[d.key] = d.title.model_dump()
        for a in d.areas:
            out[a.key] = a.title.model_dump()
            for i in a.items:
                out[i.key] = i.text.model_dump()
    return out


def improvement_rule(
    instrument: Instrument, threshold: float, lens_threshold: float | None = None
) -> dict[str, Any]:
    """The rule every ``outcome`` of a comparison follows, in numbers and in words."""
    own = instrument.scoring.improvement_threshold
    n = f"{threshold:g}"
    risk = instrument.scoring.method is Method.risk
    one = threshold == 1
    if risk:
        unit = ("risk point", "punto de riesgo") if one else ("risk points", "puntos de riesgo")
    else:
        unit = ("point of the scale", "punto") if one else ("points of the scale", "puntos")
    better = ("lower", "menor") if risk else ("higher", "mayor")
    rule: dict[str, Any] = {
        "threshold": threshold,
        "instrument_threshold": own,
        "from_request": threshold != own,
        "en": f"Improved: the shown endline is at least {n} {unit[0]} {better[0]} than the shown "
        f"baseline. Declined: at least {n} {unit[0]} the other way. Otherwise unchanged. "
        "`direction` gives the plain sign of any change.",
        "es": f"Mejoró: la línea final mostrada es al menos {n} {unit[1]} {better[1]} que la línea "
        f"de base mostrada. Empeoró: al menos {n} {unit[1]} en sentido contrario. Si no, sin "
        "cambio. `direction` da el signo de cualquier cambio.",
    }
    if lens_threshold is not None:
        rule["lens_threshold"] = lens_threshold
    return rule


def left_out_json(x: LeftOut, titles: dict[str, dict[str, str]]) -> dict[str, Any]:
    """What a comparison left out, and why, as the API sends it."""
    return {"key": x.key, "title": titles.get(x.key), "code": x.code, "en": x.en, "es": x.es}


def comparison_json(
    org: Organization,
    a: Assessment,
    b: Assessment,
    c: OrgComparison,
    instrument: Instrument,
) -> dict[str, Any]:
    """The organization comparison as the API sends it (before rounding at the edge);
    ``instrument`` is the version it is compared on."""
    titles = titles_of(instrument)

    def delta(d: Delta, title: dict[str, str] | None, scale: float = 1.0) -> dict[str, Any]:
        gain, eps = d.gain, 1e-9
        return {
            "key": d.key,
            "title": title,
            "baseline": d.baseline,
            "endline": d.endline,
            "delta": d.delta,
            "direction": d.direction,
            "outcome": d.outcome,
            # deprecated (see OrgComparisonRead); ``scale``: the lens's 0-100 per scale unit
            "improved": None if gain is None else gain >= c.instrument_threshold * scale - eps,
            "improved_by_threshold": None if gain is None else gain >= c.threshold * scale - eps,
        }

    def side(x: Assessment) -> dict[str, Any]:
        return {
            "assessment_id": str(x.id),
            "round": x.round,
            "assessed_on": x.assessed_on.isoformat(),
            "instrument_version": x.instrument_version,
        }

    return {
        "organization_id": str(org.id),
        "organization_name": org.name,
        "instrument_id": c.instrument_id,
        "baseline": side(a),
        "endline": side(b),
        "compared_on_version": c.version,
        "cross_version": c.cross_version,
        "comparable_items": c.comparable_items,
        "excluded_items": list(c.excluded_items),
        "compared_items": c.compared_items,
        "left_out": [left_out_json(x, titles) for x in c.left_out],
        "improvement_rule": improvement_rule(instrument, c.threshold, c.lens_threshold),
        "improvement_threshold": c.instrument_threshold,  # deprecated
        "threshold": c.threshold,  # deprecated
        "overall": delta(c.overall, OVERALL_TITLE),
        "dimensions": [
            {
                **delta(d.dimension, titles.get(d.dimension.key)),
                "areas": [delta(x, titles.get(x.key)) for x in d.areas],
            }
            for d in c.dimensions
        ],
        "lens": [delta(x, LENS_TITLES.get(x.key), c.lens_threshold / c.threshold) for x in c.lens],
        "items": [
            {
                "key": i.key,
                "title": titles.get(i.key),
                "baseline": "na" if i.baseline is NA else i.baseline,
                "endline": "na" if i.endline is NA else i.endline,
                "delta": i.delta,
                "direction": i.direction,
                "left_out": None if i.left_out is None else left_out_json(i.left_out, titles),
            }
            for i in c.items
        ],
    }
