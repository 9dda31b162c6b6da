"""Time series and comparisons (DESIGN §6), read from stored scores and answers."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.catalog import Catalog, InstrumentFile
from app.db.models import Assessment, AssessmentScore, CohortMember, Organization, Status
from app.domain.comparison import (
    CohortComparison,
    OrgComparison,
    OrgPair,
    compare_assessments,
    compare_cohort,
    rescore_on,
)
from app.domain.errors import Conflict, Invalid, NotFound
from app.domain.instrument import Method
from app.services.assessments import answers_of, get_assessment
from app.services.keys import Principal
from app.services.organizations import get_cohort, get_organization
from app.services.scores import score_summary

SCORED = (Status.submitted.value, Status.final.value)


def series(
    session: Session, principal: Principal, org_id: uuid.UUID, instrument_id: str
) -> dict[str, Any]:
    """The organization's scored assessments of one instrument in date order."""
    org = get_organization(session, principal, org_id)
    rows = session.execute(
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
        .join(AssessmentScore, AssessmentScore.assessment_id == Assessment.id)
        .where(
            Assessment.workspace_id == principal.workspace_id,
            Assessment.organization_id == org.id,
            Assessment.instrument_id == instrument_id,
            Assessment.is_current.is_(True),
            Assessment.status.in_(SCORED),
        )
        .order_by(Assessment.assessed_on, Assessment.created_at)
    )
    points = []
    for a_id, round_label, assessed_on, status, revision, retro, version, p in rows:
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
    return {"organization_id": str(org.id), "instrument_id": instrument_id, "points": points}


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
) -> tuple[Organization, Assessment, Assessment, OrgComparison]:
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
    return org, a, b, result


def comparison_json(
    org: Organization, a: Assessment, b: Assessment, c: OrgComparison
) -> dict[str, Any]:
    def delta(d: Any) -> dict[str, Any]:
        return asdict(d)

    return {
        "organization_id": str(org.id),
        "instrument_id": c.instrument_id,
        "baseline": {
            "assessment_id": str(a.id),
            "round": a.round,
            "assessed_on": a.assessed_on.isoformat(),
            "instrument_version": a.instrument_version,
        },
        "endline": {
            "assessment_id": str(b.id),
            "round": b.round,
            "assessed_on": b.assessed_on.isoformat(),
            "instrument_version": b.instrument_version,
        },
        "compared_on_version": c.version,
        "cross_version": c.cross_version,
        "comparable_items": c.comparable_items,
        "excluded_items": list(c.excluded_items),
        "improvement_threshold": c.improvement_threshold,
        "threshold": c.threshold,
        "overall": delta(c.overall),
        "dimensions": [
            {**delta(d.dimension), "areas": [delta(x) for x in d.areas]} for d in c.dimensions
        ],
        "lens": [delta(x) for x in c.lens],
        "items": [
            {
                "key": i.key,
                "baseline": "na"
                if i.baseline is not None and not isinstance(i.baseline, float)
                else i.baseline,
                "endline": "na"
                if i.endline is not None and not isinstance(i.endline, float)
                else i.endline,
                "delta": i.delta,
                "direction": i.direction,
            }
            for i in c.items
        ],
    }


@dataclass(frozen=True)
class CohortResult:
    cohort_id: uuid.UUID
    cohort_name: str
    instrument: InstrumentFile
    baseline: str
    endline: str
    names: dict[str, str]
    external_ids: dict[str, str | None]
    comparison: CohortComparison
    pairs: list[OrgPair]
    versions_mixed: bool
    # organizations with a round on an older version, scored again on the latest
    rescored: list[str] = field(default_factory=list)
    # ... with a round on a version the latest does not supersede: left out
    not_comparable: list[str] = field(default_factory=list)


def compare_cohort_rounds(
    session: Session,
    principal: Principal,
    catalog: Catalog,
    cohort_id: uuid.UUID,
    instrument_id: str,
    baseline: str,
    endline: str,
    threshold: float | None,
) -> CohortResult:
    cohort = get_cohort(session, principal, cohort_id)
    members = list(
        session.execute(
            select(Organization.id, Organization.name, Organization.external_id)
            .join(CohortMember, CohortMember.organization_id == Organization.id)
            .where(CohortMember.cohort_id == cohort.id)
            .order_by(Organization.name, Organization.id)
        ).all()
    )
    latest = catalog.latest(instrument_id)
    if latest is None:
        raise Invalid(f"unknown instrument '{instrument_id}'")
    rows = session.execute(
        select(
            Assessment.organization_id,
            Assessment.round,
            Assessment.instrument_version,
            Assessment.id,
            AssessmentScore.summary,
        )
        .join(AssessmentScore, AssessmentScore.assessment_id == Assessment.id)
        .join(CohortMember, CohortMember.organization_id == Assessment.organization_id)
        .where(
            CohortMember.cohort_id == cohort.id,
            Assessment.workspace_id == principal.workspace_id,
            Assessment.instrument_id == instrument_id,
            Assessment.round.in_((baseline, endline)),
            Assessment.is_current.is_(True),
            Assessment.status.in_(SCORED),
        )
    ).all()
    by_org: dict[uuid.UUID, dict[str, tuple[str, uuid.UUID, dict[str, Any]]]] = {}
    versions: set[str] = set()
    for org_id, round_label, version, assessment_id, summary in rows:
        by_org.setdefault(org_id, {})[round_label] = (version, assessment_id, summary)
        versions.add(version)
    instrument = latest.instrument
    keys = ["overall", *(d.key for d in instrument.dimensions)]

    numbers: dict[uuid.UUID, dict[str, dict[str, float | None]]] = {
        oid: {r: _flat(summary) for r, (_, _, summary) in sides.items()}
        for oid, sides in by_org.items()
        if all(version == instrument.version for version, _, _ in sides.values())
    }
    # An organization with a round on another version: both rounds scored again on the latest
    # version, on the items its supersedes map carries over (as the organization comparison does).
    others = {oid: sides for oid, sides in by_org.items() if oid not in numbers}
    rescored, not_comparable = _on_latest(session, catalog, latest, others, numbers)
    pairs = [
        OrgPair(
            str(oid),
            name,
            numbers.get(oid, {}).get(baseline, {}),
            numbers.get(oid, {}).get(endline, {}),
        )
        for oid, name, _ in members
    ]
    scales = list(instrument.scales.values())
    comparison = compare_cohort(
        pairs,
        keys,
        scale_low=min(s.min for s in scales),
        scale_high=max(s.max for s in scales),
        risk=instrument.scoring.method is Method.risk,
        improvement_threshold=instrument.scoring.improvement_threshold,
        threshold=threshold,
    )
    return CohortResult(
        cohort.id,
        cohort.name,
        latest,
        baseline,
        endline,
        {str(oid): name for oid, name, _ in members},
        {str(oid): ext for oid, _, ext in members},
        comparison,
        pairs,
        len(versions) > 1 or bool(others),
        sorted(str(o) for o in rescored),
        sorted(str(o) for o in not_comparable),
    )


def _flat(summary: dict[str, Any] | None) -> dict[str, float | None]:
    """A stored score summary as the cohort comparison reads it: overall and each dimension."""
    if not summary:
        return {}
    return {"overall": summary["overall"], **summary["dimensions"]}


def _on_latest(
    session: Session,
    catalog: Catalog,
    latest: InstrumentFile,
    others: dict[uuid.UUID, dict[str, tuple[str, uuid.UUID, dict[str, Any]]]],
    numbers: dict[uuid.UUID, dict[str, dict[str, float | None]]],
) -> tuple[list[uuid.UUID], list[uuid.UUID]]:
    """Fill ``numbers`` for organizations with a round on an older version; returns the ones
    re-scored and the ones whose versions the latest does not supersede (left out)."""
    if not others:
        return [], []
    ids = [assessment_id for sides in others.values() for _, assessment_id, _ in sides.values()]
    assessments = session.scalars(
        select(Assessment).where(Assessment.id.in_(ids)).options(selectinload(Assessment.answers))
    )
    answers = {a.id: answers_of(a) for a in assessments}
    rescored: list[uuid.UUID] = []
    not_comparable: list[uuid.UUID] = []
    for oid, sides in others.items():
        labels = list(sides)
        given = []
        for r in labels:
            f = catalog.get(latest.instrument.id, sides[r][0])
            if f is not None:
                given.append((f.instrument, answers[sides[r][1]]))
        scores = (
            rescore_on(latest.instrument, latest.compiled, given)
            if len(given) == len(labels)
            else None
        )
        if scores is None:
            not_comparable.append(oid)
            continue
        rescored.append(oid)
        numbers[oid] = {r: _flat(score_summary(sc)) for r, sc in zip(labels, scores, strict=True)}
    return rescored, not_comparable


def cohort_json(r: CohortResult) -> dict[str, Any]:
    c = r.comparison

    def stats(s: Any) -> dict[str, Any]:
        return {
            "n": s.n,
            "mean": s.mean,
            "median": s.median,
            "min": s.minimum,
            "max": s.maximum,
            "distribution": [
                {"bin": label, "count": n, "organizations": list(ids)}
                for label, n, ids in s.distribution
            ],
            "organizations": list(s.organizations),
        }

    def change(ch: Any) -> dict[str, Any]:
        return {
            "share_improved": ch.share_improved,
            "mean_delta": ch.mean_delta,
            "improved": list(ch.improved),
            "declined": list(ch.declined),
            "unchanged": list(ch.unchanged),
        }

    return {
        "cohort_id": str(r.cohort_id),
        "cohort_name": r.cohort_name,
        "instrument_id": r.instrument.instrument.id,
        "baseline_round": r.baseline,
        "endline_round": r.endline,
        "compared_on_version": r.instrument.instrument.version,
        "versions_mixed": r.versions_mixed,
        "rescored_on_latest": r.rescored,
        "not_comparable": r.not_comparable,
        "organizations": [{"id": k, "name": v} for k, v in r.names.items()],
        "organizations_with_both": list(c.organizations_with_both),
        "only_baseline": list(c.only_baseline),
        "only_endline": list(c.only_endline),
        "improvement_threshold": r.instrument.instrument.scoring.improvement_threshold,
        "keys": [
            {
                "key": k.key,
                "baseline": stats(k.baseline),
                "endline": stats(k.endline),
                "paired": list(k.paired),
                "paired_baseline": stats(k.paired_baseline),
                "paired_endline": stats(k.paired_endline),
                "change": change(k.change),
                "change_by_threshold": change(k.change_by_threshold),
            }
            for k in c.keys
        ],
    }
