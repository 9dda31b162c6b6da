"""Closing a plan against the next round, and the cohort's view of every plan's actions.

A plan is closed against the organization's next assessment of the same instrument (the current
revision of a later, scored assessment): for each priority area, did it improve, by how much, and
were its actions done. "Improved" follows the rule the comparisons use (``improvement_rule``): the
instrument's improvement threshold, in the direction that is better for its method.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import date

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.catalog import Catalog
from app.db.models import (
    ActionPlan,
    Assessment,
    Cohort,
    CohortMember,
    Organization,
    PlanAction,
    PlanPriority,
)
from app.domain.comparison import make_delta
from app.domain.instrument import Method
from app.services.analysis import improvement_rule
from app.services.assessment_reads import performance_of
from app.services.common import get_scoped
from app.services.keys import Principal
from app.services.plan_models import ActionRead, PerformanceRead
from app.services.plans import (
    action_read,
    area_scores,
    get_plan,
    instrument_of,
    stored_score,
)


class AreaOutcome(BaseModel):
    area: str
    title: dict[str, str] | None
    baseline: float | None
    endline: float | None
    delta: float | None
    outcome: str  # improved, declined, unchanged, not_assessed, no_next_round
    actions_total: int
    actions_done: int
    actions_dropped: int
    actions_all_done: bool


class NextRound(BaseModel):
    assessment_id: uuid.UUID
    round: str
    assessed_on: date
    performance: PerformanceRead | None


class PlanOutcome(BaseModel):
    assessment_id: uuid.UUID
    plan_id: uuid.UUID
    next: NextRound | None
    performance: PerformanceRead | None
    # the same metric measured at the next round: the change, and whether it went the planned way
    metric_delta: float | None
    metric_improved: bool | None
    improvement_rule: dict[str, object]
    areas: list[AreaOutcome]


def next_assessment(session: Session, a: Assessment) -> Assessment | None:
    """The organization's next scored assessment of the same instrument (current revision)."""
    return session.scalar(
        select(Assessment)
        .where(
            Assessment.organization_id == a.organization_id,
            Assessment.instrument_id == a.instrument_id,
            Assessment.is_current.is_(True),
            Assessment.status.in_(("submitted", "final")),
            Assessment.assessed_on > a.assessed_on,
            Assessment.round != a.round,
        )
        .order_by(Assessment.assessed_on, Assessment.created_at)
        .limit(1)
    )


def plan_outcome(
    session: Session, principal: Principal, catalog: Catalog, assessment_id: uuid.UUID
) -> PlanOutcome:
    """The plan made from this assessment, closed against the organization's next round."""
    a, plan = get_plan(session, principal, assessment_id)
    return outcome_between(session, catalog, a, plan, next_assessment(session, a))


def plan_of_round(session: Session, a: Assessment) -> ActionPlan | None:
    """The plan made from this round of the organization: from its current revision, else from
    the latest revision that was replaced (the actions agreed then still stand)."""
    return session.scalar(
        select(ActionPlan)
        .join(Assessment, ActionPlan.assessment_id == Assessment.id)
        .where(
            Assessment.organization_id == a.organization_id,
            Assessment.instrument_id == a.instrument_id,
            Assessment.round == a.round,
        )
        .order_by(Assessment.is_current.desc(), Assessment.created_at.desc())
        .limit(1)
    )


def outcome_between(
    session: Session,
    catalog: Catalog,
    a: Assessment,
    plan: ActionPlan,
    later: Assessment | None,
) -> PlanOutcome:
    """``plan`` (made from ``a``) closed against ``later``: per priority area, the change and
    whether it improved by the instrument's rule, and how many of its actions were done."""
    instrument = instrument_of(catalog, a)
    threshold = instrument.scoring.improvement_threshold
    risk = instrument.scoring.method is Method.risk
    before = area_scores(stored_score(session, a.id))
    after = area_scores(stored_score(session, later.id)) if later else {}
    titles = {x.key: x.title.model_dump() for d in instrument.dimensions for x in d.areas}
    areas = []
    for p in plan.priorities:
        b, e = before.get(p.area_key), after.get(p.area_key)
        # the change as the comparisons show it: the difference of the shown scores, judged by
        # the instrument's threshold in its better direction
        change = make_delta(p.area_key, b, e, lower_is_better=risk, threshold=threshold)
        done = sum(1 for x in p.actions if x.status == "done")
        dropped = sum(1 for x in p.actions if x.status == "dropped")
        areas.append(
            AreaOutcome(
                area=p.area_key,
                title=titles.get(p.area_key),
                baseline=b,
                endline=e,
                delta=change.delta,
                outcome="no_next_round" if later is None else (change.outcome or "not_assessed"),
                actions_total=len(p.actions),
                actions_done=done,
                actions_dropped=dropped,
                actions_all_done=bool(p.actions) and done + dropped == len(p.actions) and done > 0,
            )
        )
    perf, later_perf = performance_of(a), performance_of(later) if later else None
    metric_delta = metric_improved = None
    if perf and later_perf and later_perf["metric"].casefold() == perf["metric"].casefold():
        metric_delta = later_perf["value"] - perf["value"]
        better = metric_delta if perf["higher_is_better"] else -metric_delta
        metric_improved = better > 0
    return PlanOutcome(
        assessment_id=a.id,
        plan_id=plan.id,
        next=None
        if later is None
        else NextRound(
            assessment_id=later.id,
            round=later.round,
            assessed_on=later.assessed_on,
            performance=PerformanceRead(**later_perf) if later_perf else None,
        ),
        performance=PerformanceRead(**perf) if perf else None,
        metric_delta=metric_delta,
        metric_improved=metric_improved,
        improvement_rule=improvement_rule(instrument, threshold),
        areas=areas,
    )


# --- a cohort's plans, closed between two rounds -----------------------------------------------


class AreaTally(BaseModel):
    """One priority area across a cohort's plans: how many organizations chose it, how it
    turned out between the two rounds, and how many of its actions were done."""

    area: str
    title: dict[str, str] | None
    organizations: int
    improved: int
    declined: int
    unchanged: int
    not_assessed: int
    actions_total: int
    actions_done: int


class CohortPlanOutcomes(BaseModel):
    organizations: int  # paired organizations with a plan made from the first round
    priorities: int
    improved: int
    declined: int
    unchanged: int
    not_assessed: int
    actions_total: int
    actions_done: int
    areas: list[AreaTally]


def cohort_plan_outcomes(
    session: Session, catalog: Catalog, pairs: list[tuple[uuid.UUID, uuid.UUID]]
) -> CohortPlanOutcomes:
    """Each (first, last) pair of a cohort comparison: the plan made from the first round, if
    any, closed against the last; tallied per priority area (the most chosen first)."""
    tallies: dict[str, AreaTally] = {}
    with_plan = 0
    for first_id, last_id in pairs:
        first, last = session.get(Assessment, first_id), session.get(Assessment, last_id)
        plan = plan_of_round(session, first) if first is not None else None
        if first is None or plan is None:
            continue
        with_plan += 1
        for x in outcome_between(session, catalog, first, plan, last).areas:
            t = tallies.setdefault(
                x.area,
                AreaTally(
                    area=x.area,
                    title=x.title,
                    organizations=0,
                    improved=0,
                    declined=0,
                    unchanged=0,
                    not_assessed=0,
                    actions_total=0,
                    actions_done=0,
                ),
            )
            t.organizations += 1
            outcome = x.outcome if x.outcome != "no_next_round" else "not_assessed"
            setattr(t, outcome, getattr(t, outcome) + 1)
            t.actions_total += x.actions_total
            t.actions_done += x.actions_done
    areas = sorted(tallies.values(), key=lambda t: (-t.organizations, t.area))
    return CohortPlanOutcomes(
        organizations=with_plan,
        priorities=sum(t.organizations for t in areas),
        improved=sum(t.improved for t in areas),
        declined=sum(t.declined for t in areas),
        unchanged=sum(t.unchanged for t in areas),
        not_assessed=sum(t.not_assessed for t in areas),
        actions_total=sum(t.actions_total for t in areas),
        actions_done=sum(t.actions_done for t in areas),
        areas=areas,
    )


# --- the cohort's view ---------------------------------------------------------------------------


class CohortAction(BaseModel):
    organization_id: uuid.UUID
    organization: str
    assessment_id: uuid.UUID
    instrument_id: str
    round: str
    area: str
    action: ActionRead


class AreaNeed(BaseModel):
    """An area many organizations chose as a priority: where help is most needed."""

    instrument_id: str
    area: str
    organizations: int
    open_actions: int
    overdue_actions: int
    needing_resources: int


class CohortActions(BaseModel):
    cohort_id: uuid.UUID
    today: date
    overdue_only: bool
    actions: list[CohortAction]
    areas: list[AreaNeed]


def cohort_actions(
    session: Session, principal: Principal, cohort_id: uuid.UUID, overdue: bool, today: date
) -> CohortActions:
    """Every action of the plans of the cohort's organizations (a plan made from a revision that
    was later replaced still counts: its actions were agreed), overdue ones
    alone on request, and the priority areas ranked by how many organizations chose them."""
    get_scoped(session, principal, Cohort, cohort_id, "cohort")
    rows = session.execute(
        select(Organization, Assessment, PlanPriority, PlanAction)
        .join(CohortMember, CohortMember.organization_id == Organization.id)
        .join(Assessment, Assessment.organization_id == Organization.id)
        .join(ActionPlan, ActionPlan.assessment_id == Assessment.id)
        .join(PlanPriority, PlanPriority.plan_id == ActionPlan.id)
        .outerjoin(PlanAction, PlanAction.priority_id == PlanPriority.id)
        .where(
            CohortMember.cohort_id == cohort_id,
            Organization.workspace_id == principal.workspace_id,
        )
        .order_by(PlanAction.due_on, Organization.name, PlanPriority.position, PlanAction.position)
    ).all()
    actions: list[CohortAction] = []
    orgs: dict[tuple[str, str], set[uuid.UUID]] = defaultdict(set)
    counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for org, a, p, x in rows:
        key = (a.instrument_id, p.area_key)
        orgs[key].add(org.id)
        if x is None:
            continue
        read = action_read(x, today)
        if x.status in ("planned", "in_progress"):
            counts[key][0] += 1
            counts[key][2] += 1 if x.resources else 0
        counts[key][1] += 1 if read.overdue else 0
        if overdue and not read.overdue:
            continue
        actions.append(
            CohortAction(
                organization_id=org.id,
                organization=org.name,
                assessment_id=a.id,
                instrument_id=a.instrument_id,
                round=a.round,
                area=p.area_key,
                action=read,
            )
        )
    areas = [
        AreaNeed(
            instrument_id=k[0],
            area=k[1],
            organizations=len(v),
            open_actions=counts[k][0],
            overdue_actions=counts[k][1],
            needing_resources=counts[k][2],
        )
        for k, v in orgs.items()
    ]
    areas.sort(key=lambda n: (-n.organizations, -n.overdue_actions, -n.open_actions, n.area))
    return CohortActions(
        cohort_id=cohort_id, today=today, overdue_only=overdue, actions=actions, areas=areas
    )
