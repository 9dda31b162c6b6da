"""Which rounds can be compared: per instrument, the scored rounds of an organization or of a
cohort's members. The report pages use it to offer choices and to pick defaults (the first and
the latest round of an instrument with two or more)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from app.db.models import Assessment, CohortMember
from app.domain.enums import SCORED
from app.services.keys import Principal
from app.services.organizations import get_cohort, get_organization


@dataclass(frozen=True)
class RoundLine:
    """One round of one instrument: its label, first date, and how many organizations have it."""

    round: str
    assessed_on: date
    organizations: int


@dataclass(frozen=True)
class InstrumentRounds:
    instrument_id: str
    rounds: tuple[RoundLine, ...]  # in date order

    @property
    def comparable(self) -> bool:
        return len(self.rounds) >= 2


def _group(rows: list[tuple[str, str, date, int]]) -> list[InstrumentRounds]:
    by: dict[str, list[RoundLine]] = {}
    for instrument_id, label, first, n in rows:
        by.setdefault(instrument_id, []).append(RoundLine(label, first, n))
    return [
        InstrumentRounds(k, tuple(sorted(v, key=lambda r: (r.assessed_on, r.round))))
        for k, v in sorted(by.items())
    ]


def organization_rounds(
    session: Session, principal: Principal, org_id: uuid.UUID
) -> list[InstrumentRounds]:
    """The organization's submitted or final rounds (current revisions), per instrument."""
    org = get_organization(session, principal, org_id)
    return _rounds(session, principal, Assessment.organization_id == org.id)


def cohort_rounds(
    session: Session, principal: Principal, cohort_id: uuid.UUID
) -> list[InstrumentRounds]:
    """The rounds the cohort's members were scored in, per instrument, with how many members."""
    cohort = get_cohort(session, principal, cohort_id)
    members = select(CohortMember.organization_id).where(CohortMember.cohort_id == cohort.id)
    return _rounds(session, principal, Assessment.organization_id.in_(members))


def _rounds(
    session: Session, principal: Principal, whose: ColumnElement[bool]
) -> list[InstrumentRounds]:
    """The scored rounds (current revisions) of the workspace's assessments ``whose`` picks."""
    rows = session.execute(
        select(
            Assessment.instrument_id,
            Assessment.round,
            func.min(Assessment.assessed_on),
            func.count(func.distinct(Assessment.organization_id)),
        )
        .where(
            whose,
            Assessment.workspace_id == principal.workspace_id,
            Assessment.is_current.is_(True),
            Assessment.status.in_(SCORED),
        )
        .group_by(Assessment.instrument_id, Assessment.round)
    ).all()
    return _group([tuple(r) for r in rows])  # type: ignore[misc]


def default_pair(
    found: list[InstrumentRounds], instrument_id: str | None
) -> tuple[str, str, str] | None:
    """(instrument, first round, latest round): the asked instrument, else the one with two or
    more rounds that the most organizations have at its latest round (then the most rounds);
    ``None`` when nothing can be compared."""
    fits = [
        x
        for x in found
        if x.comparable and (instrument_id is None or x.instrument_id == instrument_id)
    ]
    if not fits:
        return None
    best = min(fits, key=lambda x: (-x.rounds[-1].organizations, -len(x.rounds), x.instrument_id))
    return best.instrument_id, best.rounds[0].round, best.rounds[-1].round
