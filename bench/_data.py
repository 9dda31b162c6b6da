"""Data for bench/api.py, loaded in-process before the server starts (never timed).

* the demo workspace (``app.services.demo.load_demo``: 24 organizations, 2 cohorts, 5 instruments);
* cohort "bench-24": 24 organizations, OCA baseline + endline, every item answered, made through
  the services (create_organization, add_member, create_assessment, submit, finalize);
* cohort "bench-1000": 1,000 organizations x 2 rounds, bulk-inserted with Core ``insert`` for
  speed. The rows are built the way the services build them (same answer rows, real scores from
  ``app.domain.scoring.score`` turned into the stored payload/summary by ``app.services.scores``,
  same row versions, same audit events). Two checks keep that honest: the bulk builder is run on
  the answers of a service-made assessment and must reproduce its rows, and ``rescore_all`` must
  find every stored score equal to a fresh scoring of the stored answers;
* 2,000 organizations that receive the assessments of the write benchmarks, in turn (a few
  rounds each, as a partner application's writes spread);
* an editor API key of the demo workspace (as ``oca keys create --workspace demo --role editor``).
"""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from app.catalog import Catalog, InstrumentFile
from app.db.models import (
    Answer,
    Assessment,
    AssessmentScore,
    AuditEvent,
    CohortMember,
    Organization,
    Status,
)
from app.db.session import make_engine, make_sessionmaker, write_transaction
from app.domain.answers import RawAnswer, parse_answers
from app.domain.rounding import rounded_numbers
from app.domain.scoring import NA, score
from app.services import assessment_scoring, assessments, organizations
from app.services.demo import WORKSPACE, load_demo
from app.services.instruments import sync_catalog, version_row
from app.services.keys import Principal, authenticate, create_key
from app.services.scores import render_score

INSTRUMENT = "oca"
BASELINE_ON = date(2022, 3, 1)
ENDLINE_ON = date(2023, 3, 1)
# The write benchmarks' organizations, taken in turn: a partner application's steady writes go to
# many organizations with a few rounds each. Until 2026-12-06 there were 16, so a run gave each
# one a hundred rounds and more, and a submit's pairing with its organization's other rounds
# (``store_pairs``) grew with them (docs/benchmarks.md).
WRITE_ORGS = 2000


@dataclass
class Dataset:
    key: str  # the editor key's secret
    instrument_version: str
    item_keys: list[str]
    allowed: dict[str, list[float]]  # item -> scale values
    cohort_24: uuid.UUID
    cohort_1000: uuid.UUID
    orgs_24: list[uuid.UUID]
    assessments_24: list[uuid.UUID]  # submitted/final, baseline and endline
    write_orgs: list[uuid.UUID]  # taken in turn: ``write_target``
    big: int
    counts: dict[str, int] = field(default_factory=dict)


def write_target(ds: Dataset, client: int, seq: int) -> uuid.UUID:
    """The organization of a client's ``seq``-th write: clients start far apart and step through
    the organizations one at a time, so each gets about as many rounds as any other."""
    orgs = ds.write_orgs
    return orgs[(client * 7919 + seq) % len(orgs)]


def item_order(f: InstrumentFile) -> list[str]:
    return [i.key for d in f.instrument.dimensions for a in d.areas for i in a.items]


def full_answers(f: InstrumentFile, rnd: random.Random, capacity: float) -> list[RawAnswer]:
    """Every item answered with a scale value, around a latent capacity (0..1)."""
    out = []
    for key in item_order(f):
        item = f.instrument.items[key]
        values = sorted(v.value for v in f.instrument.scales[item.scale].values)
        position = capacity * (len(values) - 1) + rnd.gauss(0, 0.6)
        value = values[min(len(values) - 1, max(0, round(position)))]
        out.append(RawAnswer(key, int(value) if float(value).is_integer() else value))
    return out


def _jsonable(value: Any) -> Any:  # what app.services.common.audit stores (before rounding)
    return json.loads(json.dumps(value, default=str))


class BulkBuilder:
    """Rows for one org's submitted (endline) / final (baseline) assessment, as the services make
    them: create (row_version 1) -> submit (2) -> finalize (3)."""

    def __init__(self, session: Session, f: InstrumentFile, principal: Principal) -> None:
        self.f = f
        self.principal = principal
        self.version_id = version_row(session, f.instrument.id, f.instrument.version).id
        self.order = {k: i for i, k in enumerate(item_order(f))}
        self.assessments: list[dict[str, Any]] = []
        self.answers: list[dict[str, Any]] = []
        self.scores: list[dict[str, Any]] = []
        self.audit: list[dict[str, Any]] = []

    def _audit(self, ts: datetime, action: str, otype: str, oid: Any, changes: Any) -> None:
        p = self.principal
        self.audit.append(
            {
                "workspace_id": p.workspace_id,
                "api_key_id": p.key_id,
                "actor": p.actor,
                "action": action,
                "object_type": otype,
                "object_id": str(oid),
                "occurred_at": ts,
                "changes": rounded_numbers(_jsonable(changes)) if changes else None,
            }
        )

    def assessment(
        self,
        org_id: uuid.UUID,
        round_label: str,
        assessed_on: date,
        raw: list[RawAnswer],
        ts: datetime,
        *,
        final: bool,
        assessor: str | None = "bench",
    ) -> uuid.UUID:
        f = self.f
        parsed = parse_answers(f.instrument, raw)
        aid = uuid.uuid4()
        keys = sorted(set(parsed.values) | set(parsed.notes), key=self.order.__getitem__)
        answers: dict[str, Any] = {}
        for k in keys:
            v = parsed.values.get(k)
            self.answers.append(
                {
                    "assessment_id": aid,
                    "item_key": k,
                    "position": self.order[k],
                    "value": None if v is None or v is NA else float(v),  # type: ignore[arg-type]
                    "is_na": v is NA,
                    "note": parsed.notes.get(k),
                }
            )
            if v is not None:
                answers[k] = NA if v is NA else float(v)  # type: ignore[arg-type]
        result = score(f.compiled, answers)  # as assessment_scoring.compute() scores stored answers
        assert result.overall.score is not None
        # The columns the services store (one builder: assessment_scoring.score_columns), at ts.
        columns = assessment_scoring.score_columns(f, aid, result, answers)
        columns["computed_at"] = ts
        columns["rendered"] = render_score(aid, ts, columns["payload"])
        self.scores.append({"assessment_id": aid, **columns})
        self.assessments.append(
            {
                "id": aid,
                "workspace_id": self.principal.workspace_id,
                "organization_id": org_id,
                "instrument_version_id": self.version_id,
                "instrument_id": f.instrument.id,
                "instrument_version": f.instrument.version,
                "round": round_label,
                "assessed_on": assessed_on,
                "assessor": assessor,
                "retrospective": False,
                "status": (Status.final if final else Status.submitted).value,
                "revision": 1,
                "replaces_id": None,
                "is_current": True,
                "source": "api",
                "source_sha256": None,
                "created_at": ts,
                "updated_at": ts,
                "submitted_at": ts,
                "finalized_at": ts if final else None,
                "row_version": 3 if final else 2,
            }
        )
        self._audit(
            ts,
            "assessment.create",
            "assessment",
            aid,
            {
                "organization": org_id,
                "instrument": f"{f.instrument.id} {f.instrument.version}",
                "round": round_label,
                "answers": len(parsed.values),
            },
        )
        self._audit(
            ts,
            "assessment.submit",
            "assessment",
            aid,
            {"overall": result.overall.score, "coverage": result.overall.coverage},
        )
        if final:
            self._audit(ts, "assessment.finalize", "assessment", aid, None)
        return aid


def _check_builder_matches_services(
    session: Session, f: InstrumentFile, principal: Principal, aid: uuid.UUID
) -> None:
    """Rebuild a service-made assessment with BulkBuilder and compare the rows it would write."""
    a = session.get(Assessment, aid)
    assert a is not None
    raw = [RawAnswer(x.item_key, x.value, x.note) for x in a.answers]
    b = BulkBuilder(session, f, principal)
    b.assessment(
        a.organization_id,
        a.round,
        a.assessed_on,
        raw,
        a.created_at,
        final=a.status == Status.final,
        assessor=a.assessor,
    )
    skip = {"id", "created_at", "updated_at", "submitted_at", "finalized_at"}
    got = {c: getattr(a, c) for c in b.assessments[0] if c not in skip}
    want = {c: v for c, v in b.assessments[0].items() if c not in skip}
    assert got == want, f"assessment row differs: {got} != {want}"
    got_answers = [(x.item_key, x.position, x.value, x.is_na, x.note) for x in a.answers]
    want_answers = [
        (x["item_key"], x["position"], x["value"], x["is_na"], x["note"]) for x in b.answers
    ]
    assert got_answers == want_answers, "answer rows differ"
    s = session.get(AssessmentScore, aid)
    assert s is not None
    want_s = b.scores[0]
    assert s.overall == want_s["overall"], "overall differs"
    assert s.summary == _jsonable(want_s["summary"]), "summary differs"
    assert s.payload == _jsonable(want_s["payload"]), "payload differs"
    events = session.execute(
        select(AuditEvent.action, AuditEvent.changes)
        .where(AuditEvent.object_id == str(aid))
        .order_by(AuditEvent.id)
    ).all()
    assert [(e.action, e.changes) for e in events] == [
        (x["action"], x["changes"]) for x in b.audit
    ], "audit events differ"


def prepare(url: str, catalog: Catalog, *, big: int = 1000, verify: bool = True) -> Dataset:
    """Load everything; ``url`` must already be migrated."""
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as session:
            data = _prepare(session, catalog, big=big, verify=verify)
        if engine.dialect.name == "postgresql":
            # What autovacuum does within a minute or so of a bulk load; done here so that the
            # plans do not change in the middle of a measurement. (SQLite is left as the app
            # leaves it: nothing runs ANALYZE there.)
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("ANALYZE")
        return data
    finally:
        engine.dispose()


def _prepare(session: Session, catalog: Catalog, *, big: int, verify: bool) -> Dataset:
    sync_catalog(session, catalog)
    load_demo(session, catalog)
    key = create_key(session, workspace=WORKSPACE, role="editor", name="bench")
    principal = authenticate(session, key.secret)
    assert principal is not None
    session.rollback()
    f = catalog.latest(INSTRUMENT)
    assert f is not None
    rnd = random.Random(24)

    # --- 24 organizations through the services ---------------------------------------------------
    cohort24, _ = organizations.create_cohort(session, principal, "bench-24", "24 orgs, OCA")
    orgs24: list[uuid.UUID] = []
    made24: list[uuid.UUID] = []
    for i in range(24):
        org, _ = organizations.create_organization(
            session,
            principal,
            organizations.OrgData(name=f"Bench org {i:02d}", country="MX", external_id=f"b24-{i}"),
        )
        organizations.add_member(session, principal, cohort24.id, org.id)
        orgs24.append(org.id)
        start = rnd.uniform(0.2, 0.6)
        for round_label, on, capacity in (
            ("baseline", BASELINE_ON, start),
            ("endline", ENDLINE_ON, min(0.95, start + rnd.uniform(-0.1, 0.35))),
        ):
            data = assessments.AssessmentData(
                organization_id=org.id,
                instrument_id=INSTRUMENT,
                instrument_version=f.instrument.version,
                round=round_label,
                assessed_on=on,
                assessor="bench",
                answers=full_answers(f, rnd, capacity),
            )
            a, _ = assessments.create_assessment(session, principal, catalog, data)
            assessments.submit(session, principal, catalog, a.id)
            if round_label == "baseline":
                assessments.finalize(session, principal, a.id)
            made24.append(a.id)
    if verify:
        _check_builder_matches_services(session, f, principal, made24[0])  # final baseline
        _check_builder_matches_services(session, f, principal, made24[1])  # submitted endline
        session.rollback()

    # --- the write benchmark's organizations ------------------------------------------------------
    write_orgs = []
    for i in range(WRITE_ORGS):
        org, _ = organizations.create_organization(
            session, principal, organizations.OrgData(name=f"Write target {i:02d}")
        )
        write_orgs.append(org.id)

    # --- 1,000 organizations x 2 rounds in bulk ---------------------------------------------------
    cohort_big, _ = organizations.create_cohort(
        session, principal, "bench-1000", f"{big} orgs x 2 rounds, OCA"
    )
    b = BulkBuilder(session, f, principal)
    session.rollback()
    base_ts = datetime.now(UTC) - timedelta(hours=1)
    orgs: list[dict[str, Any]] = []
    members: list[dict[str, Any]] = []
    for i in range(big):
        ts = base_ts + timedelta(milliseconds=i)
        oid = uuid.uuid4()
        orgs.append(
            {
                "id": oid,
                "workspace_id": principal.workspace_id,
                "name": f"Cohort org {i:04d}",
                "country": "MX",
                "region": None,
                "thematic_areas": [],
                "tags": [],
                "external_id": f"b1000-{i}",
                "created_at": ts,
                "updated_at": ts,
                "row_version": 1,
            }
        )
        b._audit(
            ts,
            "organization.create",
            "organization",
            oid,
            {
                "name": f"Cohort org {i:04d}",
                "country": "MX",
                "region": None,
                "thematic_areas": [],
                "tags": [],
                "external_id": f"b1000-{i}",
            },
        )
        members.append({"cohort_id": cohort_big.id, "organization_id": oid, "added_at": ts})
        b._audit(ts, "cohort.member.add", "cohort", cohort_big.id, {"organization": oid})
        start = rnd.uniform(0.2, 0.6)
        b.assessment(oid, "baseline", BASELINE_ON, full_answers(f, rnd, start), ts, final=True)
        end = min(0.95, start + rnd.uniform(-0.1, 0.35))
        b.assessment(oid, "endline", ENDLINE_ON, full_answers(f, rnd, end), ts, final=False)
    with write_transaction(session):
        conn = session.connection()
        conn.execute(insert(Organization.__table__), orgs)
        conn.execute(insert(CohortMember.__table__), members)
        conn.execute(insert(Assessment.__table__), b.assessments)
        conn.execute(insert(Answer.__table__), b.answers)
        conn.execute(insert(AssessmentScore.__table__), b.scores)
        conn.execute(insert(AuditEvent.__table__), b.audit)
    if verify:
        report = assessment_scoring.rescore_all(session, catalog, write=False)
        assert not report.changed, f"stored scores differ from a rescore: {report.changed[:3]}"

    counts = {
        name: session.scalar(select(func.count()).select_from(model)) or 0
        for name, model in (
            ("organizations", Organization),
            ("assessments", Assessment),
            ("answers", Answer),
            ("audit events", AuditEvent),
        )
    }
    session.rollback()
    allowed = {
        k: sorted(v.value for v in f.instrument.scales[f.instrument.items[k].scale].values)
        for k in item_order(f)
    }
    return Dataset(
        key=key.secret,
        instrument_version=f.instrument.version,
        item_keys=item_order(f),
        allowed=allowed,
        cohort_24=cohort24.id,
        cohort_1000=cohort_big.id,
        orgs_24=orgs24,
        assessments_24=made24,
        write_orgs=write_orgs,
        big=big,
        counts=counts,
    )
