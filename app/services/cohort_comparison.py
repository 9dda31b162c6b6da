"""The cohort comparison (DESIGN §6): every member's baseline and endline round compared on the
instrument's latest version, from stored scores where they can be used as they are and otherwise
scored again from the answers; and the comparison as the API sends it."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import and_, bindparam, func, select
from sqlalchemy.orm import Session, aliased

from app.catalog import Catalog, InstrumentFile
from app.db.models import (
    Answer,
    Assessment,
    AssessmentScore,
    CohortMember,
    Organization,
)
from app.domain.cohort import Change, CohortComparison, OrgPair, RoundStats, compare_cohort
from app.domain.comparison import LeftOut, rescore_on
from app.domain.enums import SCORED
from app.domain.errors import Invalid
from app.domain.instrument import Method
from app.domain.rounding import rounded_flat, rounded_numbers
from app.services.analysis import improvement_rule, left_out_json, titles_of
from app.services.assessment_reads import answers_of_many
from app.services.collector import collector_paused
from app.services.keys import Principal
from app.services.organizations import cohort_name
from app.services.round_pairs import Flat, Numbers, flat, flat_score, pair_numbers, stored_pairs
from app.services.round_pairs import Side as Scored
from app.services.scores import ANSWERED


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
    # each organization's assessment per round label
    sides: dict[str, dict[str, Scored]] = field(default_factory=dict)


@dataclass(frozen=True)
class RoundsAsked:
    """Which comparison of a cohort is asked for: two rounds of an instrument, and the
    improvement rule's threshold when it is not the instrument's own."""

    cohort_id: uuid.UUID
    instrument_id: str
    baseline: str = "baseline"
    endline: str = "endline"
    threshold: float | None = None


# The comparison's statements (its members, their rounds), built once with bound parameters
# (building them per request was a tenth of a small cohort's comparison). Plain rows on the
# session's connection, not through the ORM's result: 10,000 members of a national cohort were
# 70 ms of the ORM's row loading, and its 20,000 rounds 30-50 ms.
_MEMBERS = (
    select(Organization.id, Organization.name, Organization.external_id)
    .join(CohortMember, CohortMember.organization_id == Organization.id)
    .where(CohortMember.cohort_id == bindparam("cohort"))
    .order_by(Organization.name, Organization.id)
)
_ROUNDS = (
    select(
        Assessment.organization_id,
        Assessment.round,
        Assessment.instrument_version,
        Assessment.id,
        AssessmentScore.summary,
        AssessmentScore.computed_at,
    )
    .join(AssessmentScore, AssessmentScore.assessment_id == Assessment.id)
    .join(CohortMember, CohortMember.organization_id == Assessment.organization_id)
    .where(
        CohortMember.cohort_id == bindparam("cohort"),
        Assessment.workspace_id == bindparam("workspace"),
        Assessment.instrument_id == bindparam("instrument"),
        Assessment.round.in_([bindparam("baseline"), bindparam("endline")]),
        Assessment.is_current.is_(True),
        Assessment.status.in_(SCORED),
    )
)


def compare_cohort_rounds(
    session: Session, principal: Principal, catalog: Catalog, asked: RoundsAsked
) -> CohortResult:
    """Every member's baseline and endline on the latest version, compared (``compare_cohort``).

    An organization with both rounds is compared on the items it answered in both (as the
    organization comparison is); its stored scores are used as they are when nothing is left out
    and both rounds are on the latest version, otherwise both rounds are scored again."""
    with collector_paused():
        return _compare(session, principal, catalog, asked)


def comparison_text(
    session: Session, principal: Principal, catalog: Catalog, asked: RoundsAsked
) -> bytes:
    """``compare_cohort_rounds`` as the API sends it: ``cohort_json``, rounded and serialized,
    all without the garbage collector walking the answer while it is built (``collector``)."""
    with collector_paused():
        result = compare_cohort_rounds(session, principal, catalog, asked)
        # = as_json(cohort_json(result)), the same bytes: each organization's scores are rounded
        # as they are made, so the rounding walk skips the 10,000s of dicts around them, and the
        # bytes go out as they are (a national answer is tens of MB: no str made of them)
        data = _cohort_json(result, rounded=True)
        body = orjson.dumps(
            {k: v if k == "organizations" else rounded_numbers(v) for k, v in data.items()}
        )
        # dropped while the collector is paused: the first collection after the pause walks
        # every container made during it that is still alive (millions here, ~50 ms a call)
        del result, data
        return body


def _compare(
    session: Session, principal: Principal, catalog: Catalog, asked: RoundsAsked
) -> CohortResult:
    cohort_id, instrument_id, threshold = asked.cohort_id, asked.instrument_id, asked.threshold
    baseline, endline = asked.baseline, asked.endline
    title = cohort_name(session, principal, cohort_id)
    connection = session.connection()
    latest = catalog.latest(instrument_id)
    if latest is None:
        raise Invalid(f"unknown instrument '{instrument_id}'")
    members = connection.execute(_MEMBERS, {"cohort": cohort_id}).all()
    rows = connection.execute(
        _ROUNDS,
        {
            "cohort": cohort_id,
            "workspace": principal.workspace_id,
            "instrument": instrument_id,
            "baseline": baseline,
            "endline": endline,
        },
    ).all()
    # organizations are keyed by their id's integer below: a UUID's hash is a Python method,
    # and a national cohort looks organizations up some 200,000 times
    by_org: dict[int, dict[str, Scored]] = {}
    versions: set[str] = set()
    for org_id, round_label, version, assessment_id, summary, scored_at in rows:
        by_org.setdefault(org_id.int, {})[round_label] = Scored(
            version, assessment_id, summary, scored_at
        )
        versions.add(version)
    instrument = latest.instrument
    keys = ["overall", *(d.key for d in instrument.dimensions)]
    # an organization whose rounds are on the latest version and answered the same items keeps
    # its stored scores; the others are scored again from their answers
    same = _same_items(session, by_org, baseline, endline) if baseline != endline else set()
    numbers: dict[int, dict[str, Flat]] = {}
    for oid, sides in by_org.items():
        if all(s.instrument_version == instrument.version for s in sides.values()) and (
            len(sides) < 2 or oid in same
        ):
            numbers[oid] = {r: flat(s.summary) for r, s in sides.items()}
    again = {oid: sides for oid, sides in by_org.items() if oid not in numbers}
    both = {
        oid: (sides[baseline], sides[endline])
        for oid, sides in again.items()
        if baseline != endline and baseline in sides and endline in sides
    }
    # the numbers of both rounds made when they were scored (``round_pairs``), where stored
    # and up to date; the other organizations' rounds are compared here, from their answers
    stored = stored_pairs(session.connection(), instrument.version, both)
    answers = answers_of_many(
        session,
        [
            s.assessment_id
            for oid, sides in again.items()
            if oid not in stored
            for s in sides.values()
        ],
    )
    left_out: dict[int, tuple[LeftOut, ...]] = {}
    rescored: list[int] = []
    not_comparable: list[int] = []
    for oid, sides in again.items():
        labels = [r for r in (baseline, endline) if r in sides][: len(sides)]
        made: Numbers | None = None
        flats: list[Flat] | None = None
        if oid in both:
            made = (
                stored[oid] if oid in stored else pair_numbers(catalog, latest, *both[oid], answers)
            )
            if made is not None:
                flats = [made[0], made[1]]
                left_out[oid] = made[2]
        else:
            files = [catalog.get(instrument_id, sides[r].instrument_version) for r in labels]
            given = [
                (f.instrument, answers[sides[r].assessment_id])
                for f, r in zip(files, labels, strict=True)
                if f
            ]
            if len(given) == len(labels):
                scores = rescore_on(instrument, latest.compiled, given)
                flats = None if scores is None else [flat_score(sc) for sc in scores]
        if flats is None:
            not_comparable.append(oid)
            continue
        if not all(s.instrument_version == instrument.version for s in sides.values()):
            rescored.append(oid)
        numbers[oid] = dict(zip(labels, flats, strict=True))
    text = {oid.int: str(oid) for oid, _, _ in members}  # each id made a string once
    none: dict[str, Flat] = {}
    pairs = [
        OrgPair(
            text[key],
            name,
            (found := numbers.get(key, none)).get(baseline, {}),
            found.get(endline, {}),
            left_out.get(key, ()),
        )
        for key, name in ((oid.int, name) for oid, name, _ in members)
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
        cohort_id,
        title,
        latest,
        baseline,
        endline,
        {text[oid.int]: name for oid, name, _ in members},
        {text[oid.int]: ext for oid, _, ext in members},
        comparison,
        pairs,
        len(versions) > 1 or bool(versions - {instrument.version}),
        sorted(text[o] for o in rescored),
        sorted(text[o] for o in not_comparable),
        {text[oid]: sides for oid, sides in by_org.items() if oid in numbers},
    )


def _same_items(
    session: Session,
    by_org: dict[int, dict[str, Scored]],
    baseline: str,
    endline: str,
) -> set[int]:
    """The organizations whose baseline and endline answered the same items: the digests of the
    items answered, stored with each score (``answered_digest``), are equal. Scores stored
    without one (before it was recorded) are counted in the database instead."""
    same: set[int] = set()
    pairs: dict[int, tuple[uuid.UUID, uuid.UUID]] = {}
    for oid, sides in by_org.items():
        if baseline in sides and endline in sides:
            b, e = sides[baseline], sides[endline]
            digests = (b.summary or {}).get(ANSWERED), (e.summary or {}).get(ANSWERED)
            if None not in digests:
                if digests[0] == digests[1]:
                    same.add(oid)
            else:
                pairs[oid] = (b.assessment_id, e.assessment_id)
    return same | _counted_same(session, pairs) if pairs else same


def _counted_same(session: Session, pairs: dict[int, tuple[uuid.UUID, uuid.UUID]]) -> set[int]:
    """``_same_items`` of pairs without stored digests, counted in the database (two aggregates,
    not every answer): answered in both == answered in each."""
    ids = [a for pair in pairs.values() for a in pair]
    answered = and_(Answer.is_na.is_(False), Answer.value.is_not(None))
    each = dict(
        session.execute(
            select(Answer.assessment_id, func.count())
            .where(Answer.assessment_id.in_(ids), answered)
            .group_by(Answer.assessment_id)
        ).all()
    )
    x, y = aliased(Answer), aliased(Answer)
    ax, ay = aliased(Assessment), aliased(Assessment)
    both = {
        org.int: n
        for org, n in session.execute(
            select(ax.organization_id, func.count())
            .select_from(x)
            .join(ax, ax.id == x.assessment_id)
            .join(ay, ay.organization_id == ax.organization_id)
            .join(y, and_(y.assessment_id == ay.id, y.item_key == x.item_key))
            .where(
                x.assessment_id.in_([b for b, _ in pairs.values()]),
                ay.id.in_([e for _, e in pairs.values()]),
                x.is_na.is_(False),
                x.value.is_not(None),
                y.is_na.is_(False),
                y.value.is_not(None),
            )
            .group_by(ax.organization_id)
        )
    }
    return {
        oid for oid, (b, e) in pairs.items() if each.get(b, 0) == each.get(e, 0) == both.get(oid, 0)
    }


def cohort_json(r: CohortResult) -> dict[str, Any]:
    """The cohort comparison as the API sends it (before rounding at the edge)."""
    with collector_paused():
        return _cohort_json(r)


def _cohort_json(r: CohortResult, *, rounded: bool = False) -> dict[str, Any]:
    c = r.comparison
    instrument = r.instrument.instrument
    titles = titles_of(instrument)
    by_id = {p.organization_id: p for p in r.pairs}

    def stats(s: RoundStats) -> dict[str, Any]:
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

    def outcomes(ch: Change) -> dict[str, Any]:
        return {
            "threshold": ch.threshold,
            "share_improved": ch.share_improved,
            "share_declined": ch.share_declined,
            "share_unchanged": ch.share_unchanged,
            "improved": list(ch.improved),
            "declined": list(ch.declined),
            "unchanged": list(ch.unchanged),
        }

    def legacy(ch: Change, mean_delta: float | None) -> dict[str, Any]:
        return {
            "share_improved": ch.share_improved,
            "mean_delta": mean_delta,
            "improved": list(ch.improved),
            "declined": list(ch.declined),
            "unchanged": list(ch.unchanged),
        }

    def side(oid: str, label: str, scores: Mapping[str, float | None]) -> dict[str, Any] | None:
        found = r.sides.get(oid, {}).get(label)
        if found is None or not scores:
            return None
        return {
            "assessment_id": str(found.assessment_id),
            "instrument_version": found.instrument_version,
            "scores": rounded_flat(scores) if rounded else dict(scores),
        }

    def organization(oid: str, name: str) -> dict[str, Any]:
        p = by_id.get(oid)
        return {
            "id": oid,
            "name": name,
            "external_id": r.external_ids.get(oid),
            "baseline": side(oid, r.baseline, p.baseline) if p else None,
            "endline": side(oid, r.endline, p.endline) if p else None,
            "left_out": [left_out_json(x, titles) for x in p.left_out] if p else [],
        }

    return {
        "cohort_id": str(r.cohort_id),
        "cohort_name": r.cohort_name,
        "instrument_id": instrument.id,
        "baseline_round": r.baseline,
        "endline_round": r.endline,
        "compared_on_version": instrument.version,
        "versions_mixed": r.versions_mixed,
        "rescored_on_latest": r.rescored,
        "not_comparable": r.not_comparable,
        "organizations": [organization(k, v) for k, v in r.names.items()],
        "organizations_with_both": list(c.organizations_with_both),
        "only_baseline": list(c.only_baseline),
        "only_endline": list(c.only_endline),
        "improvement_rule": improvement_rule(instrument, c.threshold),
        "improvement_threshold": c.instrument_threshold,  # deprecated
        "keys": [
            {
                "key": k.key,
                "title": titles.get(k.key),
                "baseline": stats(k.baseline),
                "endline": stats(k.endline),
                "paired": list(k.paired),
                "paired_baseline": stats(k.paired_baseline),
                "paired_endline": stats(k.paired_endline),
                "mean_delta": k.mean_delta,
                "outcomes": outcomes(k.change),
                "directions": {
                    "share_up": k.signs.share_up,
                    "share_down": k.signs.share_down,
                    "share_same": k.signs.share_same,
                    "up": list(k.signs.up),
                    "down": list(k.signs.down),
                    "same": list(k.signs.same),
                },
                # deprecated (see KeyStatsRead)
                "change": legacy(k.at_instrument_threshold, k.mean_delta),
                "change_by_threshold": legacy(k.change, k.mean_delta),
            }
            for k in c.keys
        ],
    }
