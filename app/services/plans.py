"""Action plans (issue 12): from a scored assessment, the weak areas people chose to work on,
each with its actions, and the metric the organization plans to improve.

The service proposes the weakest areas from the stored score object (its ``weakest`` and
``lowest_level``); people choose. The metric is the assessment's own performance columns, read
here, never stored twice. One ETag (the plan's row version) guards every change to the plan, its
priorities and its actions, so two editors cannot overwrite each other's edits unseen.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.catalog import Catalog
from app.db.models import ActionPlan, Assessment, AssessmentScore, PlanAction, PlanPriority
from app.db.session import write_transaction
from app.domain.errors import Conflict, Invalid, NotFound
from app.domain.instrument import Instrument
from app.domain.rounding import half_even
from app.domain.score_object import ScorePayload
from app.services.assessment_reads import get_assessment, performance_of
from app.services.common import audit, check_if_match, etag, now
from app.services.instruments import resolve_instrument
from app.services.keys import Principal
from app.services.plan_models import (
    ActionData,
    ActionRead,
    PerformanceRead,
    PlanRead,
    PriorityData,
    PriorityRead,
    ProposedArea,
)

ACTION_STATUSES: tuple[str, ...] = ("planned", "in_progress", "done", "dropped")
OPEN_STATUSES = ("planned", "in_progress")
ACTION_FIELDS = ("what", "who", "due_on", "resources", "status", "progress")


# --- reading -------------------------------------------------------------------------------------


def plan_etag(plan: ActionPlan) -> str:
    return etag(plan.id, plan.row_version)


def instrument_of(catalog: Catalog, a: Assessment) -> Instrument:
    return resolve_instrument(catalog, a.instrument_id, a.instrument_version).instrument


def stored_score(session: Session, assessment_id: uuid.UUID) -> ScorePayload | None:
    """The assessment's stored score object (unrounded), or None while it has none."""
    payload = session.scalar(
        select(AssessmentScore.payload).where(AssessmentScore.assessment_id == assessment_id)
    )
    return None if payload is None else ScorePayload.model_validate(payload)


def area_scores(payload: ScorePayload | None) -> dict[str, float | None]:
    """Each area's score in a stored score object, as people read it (half-even to 2 places,
    like every score the API shows; None: not assessed)."""
    if payload is None:
        return {}
    return {
        area.key: None if area.score is None else half_even(area.score)
        for d in payload.dimensions
        for area in d.areas
    }


def find_plan(session: Session, assessment_id: uuid.UUID) -> ActionPlan | None:
    return session.scalar(select(ActionPlan).where(ActionPlan.assessment_id == assessment_id))


def get_plan(
    session: Session, principal: Principal, assessment_id: uuid.UUID
) -> tuple[Assessment, ActionPlan]:
    a = get_assessment(session, principal, assessment_id)
    plan = find_plan(session, a.id)
    if plan is None:
        raise NotFound(f"assessment {assessment_id} has no action plan yet; create it with POST")
    return a, plan


def is_overdue(action: PlanAction, today: date) -> bool:
    return action.status in OPEN_STATUSES and action.due_on is not None and action.due_on < today


def action_read(action: PlanAction, today: date) -> ActionRead:
    return ActionRead(
        id=action.id,
        what=action.what,
        who=action.who,
        due_on=action.due_on,
        resources=action.resources,
        status=action.status,
        progress=action.progress,
        overdue=is_overdue(action, today),
        updated_at=action.updated_at,
    )


def proposed_areas(
    instrument: Instrument, payload: ScorePayload | None, chosen: set[str]
) -> list[ProposedArea]:
    """The weakest areas and those at the scale's lowest level, weakest first, each once."""
    if payload is None:
        return []
    scores = area_scores(payload)
    lowest = set(payload.lowest_level)
    keys = [w.key for w in payload.weakest]
    keys += [k for k in payload.lowest_level if k not in keys]
    areas = {x.key: (d.key, x.title.model_dump()) for d in instrument.dimensions for x in d.areas}
    return [
        ProposedArea(
            area=k,
            dimension=areas[k][0] if k in areas else None,
            title=areas[k][1] if k in areas else None,
            score=scores.get(k),
            lowest_level=k in lowest,
            chosen=k in chosen,
        )
        for k in keys
    ]


def plan_read(
    session: Session, catalog: Catalog, a: Assessment, plan: ActionPlan, today: date
) -> PlanRead:
    instrument = instrument_of(catalog, a)
    payload = stored_score(session, a.id)
    scores = area_scores(payload)
    areas = {x.key: (d.key, x.title.model_dump()) for d in instrument.dimensions for x in d.areas}
    perf = performance_of(a)
    return PlanRead(
        id=plan.id,
        assessment_id=a.id,
        organization_id=a.organization_id,
        instrument_id=a.instrument_id,
        round=a.round,
        performance=PerformanceRead(**perf) if perf else None,
        proposed=proposed_areas(instrument, payload, {p.area_key for p in plan.priorities}),
        priorities=[
            PriorityRead(
                id=p.id,
                area=p.area_key,
                dimension=areas.get(p.area_key, (None, None))[0],
                title=areas.get(p.area_key, (None, None))[1],
                score=scores.get(p.area_key),
                note=p.note,
                actions=[action_read(x, today) for x in p.actions],
            )
            for p in plan.priorities
        ],
        created_at=plan.created_at,
        updated_at=plan.updated_at,
    )


@dataclass(frozen=True, slots=True)
class PlanReply:
    """A plan as the API answers a read or a write: its read model and the ETag of that state."""

    plan: PlanRead
    etag: str


def plan_reply(
    session: Session, principal: Principal, catalog: Catalog, assessment_id: uuid.UUID, today: date
) -> PlanReply | None:
    """The assessment's plan as it is now (overdue actions counted on ``today``), or None
    while it has none; NotFound for an assessment of another workspace."""
    a = get_assessment(session, principal, assessment_id)
    plan = find_plan(session, a.id)
    if plan is None:
        return None
    return PlanReply(plan_read(session, catalog, a, plan, today), plan_etag(plan))


def read_plan(
    session: Session, principal: Principal, catalog: Catalog, assessment_id: uuid.UUID, today: date
) -> PlanReply:
    """``plan_reply``; NotFound without a plan."""
    reply = plan_reply(session, principal, catalog, assessment_id, today)
    if reply is None:
        raise NotFound(f"assessment {assessment_id} has no action plan yet; create it with POST")
    return reply


# --- writing -------------------------------------------------------------------------------------


def _check_scored(a: Assessment) -> None:
    if a.status not in ("submitted", "final"):
        raise Conflict(
            f"assessment is {a.status}; a plan is made from a submitted or final assessment",
            status_now=a.status,
        )


def _check_area(instrument: Instrument, area: str, pointer: str) -> None:
    if area not in {x.key for d in instrument.dimensions for x in d.areas}:
        en = f"{area!r} is not an area of instrument {instrument.id}"
        es = f"{area!r} no es un área del instrumento {instrument.id}"
        raise Invalid(
            en, errors=[{"pointer": pointer, "code": "unknown_area", "detail": en, "detail_es": es}]
        )


def _check_status(status: str, pointer: str) -> None:
    if status not in ACTION_STATUSES:
        en = f"status must be one of {', '.join(ACTION_STATUSES)}"
        raise Invalid(en, errors=[{"pointer": pointer, "code": "not_a_valid_value", "detail": en}])


def new_action(priority: PlanPriority, data: ActionData, pointer: str) -> PlanAction:
    _check_status(data.status, pointer + "/status")
    action = PlanAction(
        id=uuid.uuid4(),
        position=len(priority.actions),
        updated_at=now(),
        **{f: getattr(data, f) for f in ACTION_FIELDS},
    )
    priority.actions.append(action)
    return action


def new_priority(
    instrument: Instrument, plan: ActionPlan, data: PriorityData, pointer: str
) -> PlanPriority:
    _check_area(instrument, data.area, pointer + "/area")
    if data.area in {p.area_key for p in plan.priorities}:
        raise Conflict(f"the plan already has a priority for area {data.area!r}")
    priority = PlanPriority(
        id=uuid.uuid4(), area_key=data.area, note=data.note, position=len(plan.priorities)
    )
    plan.priorities.append(priority)
    for j, action in enumerate(data.actions):
        new_action(priority, action, f"{pointer}/actions/{j}")
    return priority


def create_plan(
    session: Session,
    principal: Principal,
    catalog: Catalog,
    assessment_id: uuid.UUID,
    priorities: list[PriorityData],
) -> tuple[Assessment, ActionPlan]:
    with write_transaction(session):
        a = get_assessment(session, principal, assessment_id)
        _check_scored(a)
        if find_plan(session, a.id) is not None:
            raise Conflict("this assessment already has an action plan; change it with PATCH")
        instrument = instrument_of(catalog, a)
        ts = now()
        plan = ActionPlan(
            workspace_id=principal.workspace_id, assessment_id=a.id, created_at=ts, updated_at=ts
        )
        session.add(plan)
        for i, p in enumerate(priorities):
            new_priority(instrument, plan, p, f"/priorities/{i}")
        session.flush()
        audit(
            session,
            principal,
            "plan.create",
            "assessment",
            a.id,
            {"areas": [p.area for p in priorities]},
        )
    return a, plan


def lock_plan(
    session: Session, principal: Principal, assessment_id: uuid.UUID, if_match: str | None
) -> tuple[Assessment, ActionPlan]:
    a, plan = get_plan(session, principal, assessment_id)
    check_if_match(if_match, plan_etag(plan), required=True)
    plan.updated_at = now()  # bumps the row version: the plan's ETag changes with any part
    return a, plan


def add_priority(
    session: Session,
    principal: Principal,
    catalog: Catalog,
    assessment_id: uuid.UUID,
    data: PriorityData,
    if_match: str | None,
) -> tuple[Assessment, ActionPlan]:
    with write_transaction(session):
        a, plan = lock_plan(session, principal, assessment_id, if_match)
        priority = new_priority(instrument_of(catalog, a), plan, data, "")
        session.flush()
        audit(
            session,
            principal,
            "plan.priority.add",
            "plan_priority",
            priority.id,
            {"area": data.area},
        )
    return a, plan


def _priority(plan: ActionPlan, priority_id: uuid.UUID) -> PlanPriority:
    for p in plan.priorities:
        if p.id == priority_id:
            return p
    raise NotFound(f"priority {priority_id} is not part of this plan")


def update_priority(
    session: Session,
    principal: Principal,
    assessment_id: uuid.UUID,
    priority_id: uuid.UUID,
    changes: dict[str, Any],
    if_match: str | None,
) -> tuple[Assessment, ActionPlan]:
    with write_transaction(session):
        a, plan = lock_plan(session, principal, assessment_id, if_match)
        priority = _priority(plan, priority_id)
        if "note" in changes:
            priority.note = changes["note"]
        audit(session, principal, "plan.priority.update", "plan_priority", priority.id, changes)
    return a, plan


def add_action(
    session: Session,
    principal: Principal,
    assessment_id: uuid.UUID,
    priority_id: uuid.UUID,
    data: ActionData,
    if_match: str | None,
) -> tuple[Assessment, ActionPlan]:
    with write_transaction(session):
        a, plan = lock_plan(session, principal, assessment_id, if_match)
        action = new_action(_priority(plan, priority_id), data, "")
        session.flush()
        audit(
            session,
            principal,
            "plan.action.add",
            "plan_action",
            action.id,
            {f: getattr(data, f) for f in ACTION_FIELDS},
        )
    return a, plan


def update_action(
    session: Session,
    principal: Principal,
    assessment_id: uuid.UUID,
    action_id: uuid.UUID,
    changes: dict[str, Any],
    if_match: str | None,
) -> tuple[Assessment, ActionPlan]:
    with write_transaction(session):
        a, plan = lock_plan(session, principal, assessment_id, if_match)
        found = [x for p in plan.priorities for x in p.actions if x.id == action_id]
        if not found:
            raise NotFound(f"action {action_id} is not part of this plan")
        action = found[0]
        if "status" in changes:
            _check_status(changes["status"], "/status")
        if changes.get("what", "") is None:
            raise Invalid("what cannot be empty", errors=[{"pointer": "/what", "code": "null"}])
        for field in ACTION_FIELDS:
            if field in changes:
                setattr(action, field, changes[field])
        action.updated_at = now()
        audit(session, principal, "plan.action.update", "plan_action", action.id, changes)
    return a, plan
