"""Demo data shaped like the seed document's learning-community groups (USAID/Mexico CSA).

Deterministic (seeded) and idempotent: running it again adds nothing but a new admin key.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.catalog import Catalog, InstrumentFile
from app.db.models import Assessment, Cohort
from app.domain.answers import RawAnswer
from app.services import assessments, evidence, organizations, plans, ratings, verification
from app.services.keys import CreatedKey, Principal, authenticate, create_key
from app.services.plan_models import ActionData, PriorityData

WORKSPACE = "demo"

STATES = ["Baja California", "Sonora", "Coahuila", "Ciudad de México", "Chihuahua", "Jalisco"]
THEMES = ["violence prevention", "human rights", "justice reform"]
ROOTS = [
    "Jóvenes por la Paz",
    "Red de Mediación Comunitaria",
    "Centro de Derechos Humanos del Norte",
    "Colectivo Mujeres Libres",
    "Fundación Justicia Cercana",
    "Observatorio Ciudadano",
    "Casa de la Juventud",
    "Alianza por la Seguridad Local",
    "Defensoría Popular",
    "Tejiendo Comunidad",
    "Instituto de Justicia Restaurativa",
    "Puentes de Diálogo",
    "Red Infancia Segura",
    "Cultura de Paz",
    "Voces del Desierto",
    "Acción Vecinal",
    "Memoria y Verdad",
    "Futuro Posible",
    "Manos que Construyen",
    "Semillas de Cambio",
    "Sendero Joven",
    "Barrio Activo",
    "Justicia para Todas",
    "Comunidad Resiliente",
]

BASELINE_ON = date(2019, 6, 15)
ENDLINE_ON = date(2020, 6, 15)


@dataclass(frozen=True)
class DemoResult:
    key: CreatedKey
    organizations: int
    assessments_created: int


def _answers(
    f: InstrumentFile, rnd: random.Random, capacity: float, *, na_rate: float, missing: float = 0
) -> list[RawAnswer]:
    """Answers around a latent capacity (0..1), with N/A where the scale allows it."""
    out: list[RawAnswer] = []
    for key, item in f.instrument.items.items():
        scale = f.instrument.scales[item.scale]
        if rnd.random() < missing:
            continue
        if f.instrument.allows_na(item) and rnd.random() < na_rate:
            out.append(RawAnswer(key, "na", "Does not apply to this organization"))
            continue
        if scale.kind == "yesno":
            out.append(RawAnswer(key, "yes" if rnd.random() < 0.35 + 0.6 * capacity else "no"))
            continue
        values = sorted(v.value for v in scale.values)
        position = capacity * (len(values) - 1) + rnd.gauss(0, 0.55)
        index = min(len(values) - 1, max(0, round(position)))
        out.append(RawAnswer(key, values[index]))
    return out


def _org_plan(index: int, rnd: random.Random) -> tuple[float, float]:
    """(baseline capacity, change) — most improve, a few decline."""
    start = rnd.uniform(0.2, 0.55)
    if index % 7 == 3:
        change = -rnd.uniform(0.05, 0.18)  # a decline
    elif index % 9 == 5:
        change = rnd.uniform(-0.02, 0.03)  # about the same
    else:
        change = rnd.uniform(0.15, 0.4)
    return start, change


def load_demo(session: Session, catalog: Catalog) -> DemoResult:
    key = create_key(session, workspace=WORKSPACE, role="admin", name="demo-admin")
    principal = authenticate(session, key.secret)
    assert principal is not None
    session.rollback()
    rnd = random.Random(2020)  # noqa: S311 - demo data, not secrets
    groups = [
        ("Learning community group 1", "7 partner CSOs and 3 intermediary organizations", 10),
        ("Learning community group 2", "10 USAID partner CSOs and 4 fixed-amount awardees", 14),
    ]
    created = 0
    org_index = 0
    for group, (name, description, size) in enumerate(groups, start=1):
        cohort_id = session.scalar(
            select(Cohort.id).where(
                Cohort.workspace_id == principal.workspace_id, Cohort.name == name
            )
        )
        if cohort_id is None:
            cohort_id = organizations.create_cohort(session, principal, name, description)[0].id
        for _ in range(size):
            org = _ensure_org(session, principal, org_index, rnd)
            organizations.add_member(session, principal, cohort_id, org.id)
            created += _ensure_assessments(session, principal, catalog, org, org_index)
            if group == 1 and org_index % 3 != 2:
                _ensure_plan(session, principal, catalog, org, org_index)
            org_index += 1
        # The sustainability self-assessment rates the learning community itself, not one CSO
        # (csa-sustainability 2020.2 says so): the community is recorded as the subject.
        community, _ = organizations.upsert_by_external_id(
            session,
            principal,
            f"lc-{group}",
            organizations.OrgData(
                name=f"Comunidad de aprendizaje, grupo {group}",
                country="MX",
                tags=["learning-community"],
            ),
        )
        created += _ensure_assessments(
            session, principal, catalog, community, 200 + group, ["csa-sustainability"]
        )
    return DemoResult(key, org_index, created)


def _ensure_org(
    session: Session, principal: Principal, index: int, rnd: random.Random
) -> organizations.OrganizationView:
    external_id = f"csa-{index + 1:03d}"
    state = STATES[index % len(STATES)]
    themes = [THEMES[index % 3]] + ([THEMES[(index + 1) % 3]] if index % 4 == 0 else [])
    rnd.random()  # keep the sequence stable whether or not the org exists
    org, _ = organizations.upsert_by_external_id(
        session,
        principal,
        external_id,
        organizations.OrgData(
            name=ROOTS[index % len(ROOTS)],
            country="MX",
            region=state,
            thematic_areas=themes,
            tags=["ISO"] if index in (7, 8, 9) else [],
        ),
    )
    return org


def _ensure_assessments(
    session: Session,
    principal: Principal,
    catalog: Catalog,
    org: organizations.OrganizationView,
    index: int,
    plan: list[str] | None = None,
) -> int:
    rnd = random.Random(1000 + index)  # noqa: S311 - demo data
    start, change = _org_plan(index, rnd)
    if plan is None:  # the instruments that rate one organization
        plan = ["oca"]
        if index % 2 == 0:
            plan.append("opi")
        if index % 3 == 0:
            plan.append("nupas")
        if index % 4 == 1:
            plan.append("cla")
    created = 0
    for instrument_id in plan:
        f = catalog.latest(instrument_id)
        if f is None:
            continue
        for round_label, when, capacity in (
            ("baseline", BASELINE_ON, start),
            ("endline", ENDLINE_ON, min(0.97, start + change)),
        ):
            exists = session.scalar(
                select(Assessment.id).where(
                    Assessment.organization_id == org.id,
                    Assessment.instrument_id == instrument_id,
                    Assessment.round == round_label,
                )
            )
            session.rollback()
            if exists is not None:
                continue
            incomplete = index == 5 and instrument_id == "oca" and round_label == "endline"
            answers = _answers(
                f,
                rnd,
                capacity,
                na_rate=0.04 if instrument_id in ("oca", "nupas") else 0.0,
                missing=0.6 if incomplete else 0.0,
            )
            data = assessments.AssessmentData(
                organization_id=org.id,
                instrument_id=instrument_id,
                instrument_version=f.instrument.version,
                round=round_label,
                assessed_on=when,
                assessor="CSA capacity development team",
                retrospective=False,
                answers=answers,
            )
            a, _ = assessments.create_assessment(session, principal, catalog, data)
            created += 1
            if incomplete:
                continue  # one draft left incomplete, as happens in real programs
            facilitated = index in FACILITATED and (instrument_id, round_label) == (
                "oca",
                "endline",
            )
            own = random.Random(5000 + index)  # noqa: S311 - its own: the other answers stay put
            if facilitated:
                _rate(session, principal, catalog, f, a.id, answers, own)
            assessments.submit(session, principal, catalog, a.id)
            if facilitated:
                _verify(session, principal, catalog, f, a.id, answers)
            if round_label == "baseline":
                assessments.finalize(session, principal, a.id)
    return created


# The OCA endline of these organizations was a facilitated session: eight staff and board
# members rated on their own, the group agreed the answers, and a reviewer then checked some
# items against evidence (issue 12).
FACILITATED = (0, 1)
RATERS = 8


def _step(f: InstrumentFile, key: str, value: object, by: int) -> object:
    """A scale value ``by`` steps away from ``value``, kept on the scale."""
    scale = f.instrument.scales[f.instrument.items[key].scale]
    values = [v.value for v in scale.values]
    if value not in values:
        return value
    return values[min(len(values) - 1, max(0, values.index(value) + by))]


def _rate(
    session: Session,
    principal: Principal,
    catalog: Catalog,
    f: InstrumentFile,
    assessment_id: uuid.UUID,
    agreed: list[RawAnswer],
    rnd: random.Random,
) -> None:
    """Each rater's own ratings, around what the group agreed; a few items split the room."""
    split = {x.item for x in agreed[::9]}
    # most items: the raters agree within one step, some a step above or below (never both);
    # every ninth item splits the room two steps apart
    lean = {x.item: (1 if n % 2 else -1) for n, x in enumerate(agreed)}
    for n in range(1, RATERS + 1):
        given = [
            RawAnswer(
                x.item,
                _step(
                    f,
                    x.item,
                    x.value,
                    rnd.choice((-1, 1)) if x.item in split else rnd.choice((0, 0, 0, lean[x.item])),
                ),
            )
            for x in agreed
        ]
        ratings.put_rater(
            session, principal, catalog, assessment_id, ratings.RaterInput(f"R{n:02d}", None, given)
        )


def _verify(
    session: Session,
    principal: Principal,
    catalog: Catalog,
    f: InstrumentFile,
    assessment_id: uuid.UUID,
    agreed: list[RawAnswer],
) -> None:
    """A reviewer checks six items against evidence, two of them lower than self-assessed, and
    records the documents seen as links."""
    checked = [x for x in agreed if x.value != "na"][:6]
    given = [
        RawAnswer(
            x.item,
            _step(f, x.item, x.value, -1 if n % 3 == 0 else 0),
            "Revisado contra el acta de consejo y los estados financieros 2019",
        )
        for n, x in enumerate(checked)
    ]
    verification.record(session, principal, catalog, assessment_id, given)
    for n, x in enumerate(checked[:3]):
        shown = evidence.add_link(
            session,
            principal,
            catalog,
            assessment_id,
            evidence.NewEvidence(x.item, f"Documento de respaldo {n + 1}"),
            f"https://example.org/evidencia/{assessment_id}/{n + 1}",
        )
        if n < 2:
            evidence.update_evidence(
                session, principal, assessment_id, shown.id, {"status": "verified"}
            )


# What the first learning community agreed after its baseline, for its two weakest areas.
_ACTIONS = (
    ("Taller con el equipo y el consejo sobre {area}", "Dirección ejecutiva"),
    ("Redactar y aprobar la política o el procedimiento de {area}", "Coordinación administrativa"),
    ("Acompañamiento técnico de la organización intermedia en {area}", "Organización intermedia"),
)


def _ensure_plan(
    session: Session,
    principal: Principal,
    catalog: Catalog,
    org: organizations.OrganizationView,
    index: int,
) -> None:
    """An action plan on the OCA baseline: its two weakest areas, three actions each, most done
    by the endline, one still open (so reports and the cohort page have plans to show)."""
    baseline = session.scalar(
        select(Assessment).where(
            Assessment.organization_id == org.id,
            Assessment.instrument_id == "oca",
            Assessment.round == "baseline",
            Assessment.is_current.is_(True),
        )
    )
    if baseline is None or plans.find_plan(session, baseline.id) is not None:
        session.rollback()
        return
    instrument = plans.instrument_of(catalog, baseline)
    weakest = plans.proposed_areas(instrument, plans.stored_score(session, baseline.id), set())[:2]
    session.rollback()
    priorities = []
    for n, area in enumerate(weakest):
        title = (area.title or {}).get("es", area.area).lower()
        actions = tuple(
            ActionData(
                what=what.format(area=title),
                who=who,
                due_on=date(2019, 9 + 3 * i, 30) if i < 1 else date(2020, 3 * i, 30),
                resources="Asistencia técnica" if i == 2 else None,
                status="in_progress" if (index + n + i) % 5 == 0 else "done",
            )
            for i, (what, who) in enumerate(_ACTIONS)
        )
        priorities.append(PriorityData(area=area.area, actions=actions))
    plans.create_plan(session, principal, catalog, baseline.id, priorities)
