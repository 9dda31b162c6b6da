"""The CBLD-9 indicator for a cohort and a US fiscal year (``app.domain.indicators``)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import Assessment, CohortMember, Organization
from app.domain.enums import SCORED
from app.domain.indicators import Cbld9, Measurement, MetricChange, cbld9
from app.excel.indicators import export_cbld9
from app.services.filenames import safe_filename  # one naming rule for every download
from app.services.keys import Principal
from app.services.organizations import get_cohort

TITLE = {
    "en": "CBLD-9: Percent of USG-assisted organizations with improved performance",
    "es": "CBLD-9: Porcentaje de organizaciones apoyadas por el Gobierno de EE. UU. que "
    "mejoraron su desempeño",
}
DEFINITION = {
    "en": "Per US fiscal year (October to September). Denominator: the cohort's organizations "
    "that named a performance metric on an assessment and measured it again within the year "
    "(planned and pursued improvement). Numerator: those whose every metric measured again moved "
    "in its better direction since the measurement before. Organizations that named a metric but "
    "did not measure it again in the year are listed apart and counted in neither. This is about "
    "performance, not capacity scores: see the cohort comparison for those.",
    "es": "Por año fiscal de EE. UU. (octubre a septiembre). Denominador: las organizaciones de la "
    "cohorte que registraron una métrica de desempeño en una evaluación y la volvieron a medir "
    "dentro del año (planearon y emprendieron una mejora). Numerador: aquellas cuyas métricas "
    "medidas de nuevo se movieron todas en su sentido favorable desde la medición anterior. Las "
    "organizaciones que registraron una métrica pero no la volvieron a medir en el año se listan "
    "aparte y no cuentan en ninguno de los dos. Trata del desempeño, no de los puntajes de "
    "capacidad: para esos, vea la comparación de la cohorte.",
}


def cohort_cbld9(
    session: Session, principal: Principal, cohort_id: uuid.UUID, fiscal_year: int
) -> tuple[Cbld9, dict[str, str], str]:
    """CBLD-9 over a cohort's members, from the performance measured at their submitted or
    final assessments (current revisions); with the members' names and the cohort's name."""
    cohort = get_cohort(session, principal, cohort_id)
    members = session.execute(
        select(Organization.id, Organization.name)
        .join(CohortMember, CohortMember.organization_id == Organization.id)
        .where(CohortMember.cohort_id == cohort.id)
        .order_by(Organization.name, Organization.id)
    ).all()
    rows = session.execute(
        select(
            Assessment.organization_id,
            Assessment.id,
            Assessment.assessed_on,
            Assessment.performance_metric,
            Assessment.performance_value,
            Assessment.performance_higher_is_better,
        )
        .join(CohortMember, CohortMember.organization_id == Assessment.organization_id)
        .where(
            CohortMember.cohort_id == cohort.id,
            Assessment.workspace_id == principal.workspace_id,
            Assessment.is_current.is_(True),
            Assessment.status.in_(SCORED),
            Assessment.performance_metric.is_not(None),
            Assessment.performance_value.is_not(None),
        )
        .order_by(Assessment.assessed_on, Assessment.created_at)
    ).all()
    measurements = [
        Measurement(str(org), str(a_id), on, metric, float(value), better is not False)
        for org, a_id, on, metric, value, better in rows
        if metric is not None and value is not None  # the query asks for these only
    ]
    names = {str(oid): name for oid, name in members}
    return cbld9(measurements, list(names), fiscal_year), names, cohort.name


def cbld9_json(
    cohort_id: uuid.UUID, cohort_name: str, result: Cbld9, names: dict[str, str]
) -> dict[str, Any]:
    def measured(m: Measurement) -> dict[str, Any]:
        return {
            "assessment_id": m.assessment_id,
            "measured_on": m.measured_on.isoformat(),
            "value": m.value,
        }

    def metric(c: MetricChange) -> dict[str, Any]:
        return {
            "metric": c.metric,
            "higher_is_better": c.higher_is_better,
            "earlier": measured(c.earlier),
            "later": measured(c.later),
            "change": c.change,
            "improved": c.improved,
        }

    return {
        "cohort_id": str(cohort_id),
        "cohort_name": cohort_name,
        "indicator": "CBLD-9",
        "title": TITLE,
        "definition": DEFINITION,
        "fiscal_year": result.fiscal_year,
        "starts_on": result.starts_on.isoformat(),
        "ends_on": result.ends_on.isoformat(),
        "denominator": len(result.counted),
        "numerator": len(result.improved),
        "share_improved": result.share_improved,
        "improved": list(result.improved),
        "not_improved": list(result.not_improved),
        "organizations": [
            {
                "id": o.organization_id,
                "name": names.get(o.organization_id, o.organization_id),
                "improved": o.improved,
                "metrics": [metric(c) for c in o.metrics],
            }
            for o in result.counted
        ],
        "not_measured_again": [
            {
                "id": w.organization_id,
                "name": names.get(w.organization_id, w.organization_id),
                "metric": w.metric,
                "last_measured_on": w.last_measured_on.isoformat(),
            }
            for w in result.not_measured_again
        ],
    }


def cbld9_workbook(
    session: Session, principal: Principal, cohort_id: uuid.UUID, fiscal_year: int, lang: str
) -> tuple[str, bytes]:
    """The indicator as .xlsx, with the organizations behind each number."""
    result, names, cohort_name = cohort_cbld9(session, principal, cohort_id, fiscal_year)
    data = export_cbld9(result, cohort_name, names, title=TITLE, definition=DEFINITION, lang=lang)
    return safe_filename("cbld-9", f"FY{fiscal_year}", cohort_name, ext="xlsx"), data
