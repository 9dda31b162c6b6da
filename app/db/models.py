"""ORM rows. Only the database shape lives here: no HTTP contracts, no scoring."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from app.db.base import Base, ItemValue
from app.domain.enums import EvidenceStatus, Role, Status
from app.domain.names import name_key

# BIGINT on PostgreSQL, INTEGER on SQLite (where only INTEGER PRIMARY KEY autoincrements).
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Workspace(Base):
    __tablename__ = "workspace"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # anonymized scores shared with the other workspaces that share theirs (peer benchmarks)
    shares_scores: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class ApiKey(Base):
    __tablename__ = "api_key"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspace.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (CheckConstraint("role in ('admin', 'editor', 'viewer')", name="role"),)


class InstrumentVersion(Base):
    """An instrument version as first seen by this database; its hash makes it immutable."""

    __tablename__ = "instrument_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    instrument_id: Mapped[str] = mapped_column(String(40))
    version: Mapped[str] = mapped_column(String(32))
    content_hash: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    loaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # A workspace's own version (app.services.owned_instruments); NULL for the shipped library,
    # whose text is its file. Labels are unique service-wide: a workspace's carry "local".
    workspace_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("workspace.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="published", server_default="published")
    content: Mapped[str | None] = mapped_column(Text)  # the canonical YAML (app.catalog.owned)
    derived_from: Mapped[str | None] = mapped_column(String(80))  # "<id> <version>"
    created_by: Mapped[str | None] = mapped_column(String(200))
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    published_by: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (UniqueConstraint("instrument_id", "version"),)


class Organization(Base):
    __tablename__ = "organization"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspace.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    country: Mapped[str | None] = mapped_column(String(2))
    region: Mapped[str | None] = mapped_column(String(120))
    thematic_areas: Mapped[list[str]] = mapped_column(JSON, default=list)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    external_id: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    row_version: Mapped[int] = mapped_column(Integer, default=1)
    # the name as a workbook's cover is matched by it (app.domain.names.name_key), set with the
    # name: the import finds its organization by this index, not by reading every name
    name_key: Mapped[str | None] = mapped_column(String(600))

    __table_args__ = (
        UniqueConstraint("workspace_id", "external_id"),
        Index("ix_organization_workspace_name", "workspace_id", "name"),
        Index("ix_organization_workspace_name_key", "workspace_id", "name_key"),
    )
    __mapper_args__ = {"version_id_col": row_version}  # noqa: RUF012

    @validates("name")
    def _keyed(self, _: str, name: str) -> str:
        self.name_key = name_key(name)
        return name


class Cohort(Base):
    __tablename__ = "cohort"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspace.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (UniqueConstraint("workspace_id", "name"),)


class CohortMember(Base):
    __tablename__ = "cohort_member"

    cohort_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("cohort.id", ondelete="CASCADE"), primary_key=True
    )
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Assessment(Base):
    """One organization x one instrument version x one round (and one revision of it)."""

    __tablename__ = "assessment"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspace.id"))
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organization.id"))
    instrument_version_id: Mapped[int] = mapped_column(ForeignKey("instrument_version.id"))
    instrument_id: Mapped[str] = mapped_column(String(40))
    instrument_version: Mapped[str] = mapped_column(String(32))
    round: Mapped[str] = mapped_column(String(64))
    assessed_on: Mapped[date] = mapped_column(Date)
    assessor: Mapped[str | None] = mapped_column(String(200))
    retrospective: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default=Status.draft)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    replaces_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("assessment.id"))
    is_current: Mapped[bool] = mapped_column(Boolean, default=True)
    source: Mapped[str] = mapped_column(String(16), default="api")
    source_sha256: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finalized_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    row_version: Mapped[int] = mapped_column(Integer, default=1)
    # the performance metric the organization plans to improve, measured at this assessment
    # (CBLD-9; migration 0005): all three or none
    performance_metric: Mapped[str | None] = mapped_column(String(200))
    performance_value: Mapped[float | None] = mapped_column(Float)
    performance_higher_is_better: Mapped[bool | None] = mapped_column(Boolean)

    answers: Mapped[list[Answer]] = relationship(
        back_populates="assessment",
        cascade="all, delete-orphan",
        order_by="Answer.position",
    )

    __table_args__ = (
        UniqueConstraint("organization_id", "instrument_id", "round", "revision"),
        CheckConstraint("status in ('draft', 'submitted', 'final')", name="status"),
        Index("ix_assessment_workspace_created", "workspace_id", "created_at", "id"),
        Index("ix_assessment_org_instrument", "organization_id", "instrument_id", "assessed_on"),
        Index("ix_assessment_workspace_source", "workspace_id", "source_sha256"),
    )
    __mapper_args__ = {"version_id_col": row_version}  # noqa: RUF012


class Answer(ItemValue, Base):
    __tablename__ = "answer"

    assessment_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("assessment.id", ondelete="CASCADE"), primary_key=True
    )

    assessment: Mapped[Assessment] = relationship(back_populates="answers")

    __table_args__ = (CheckConstraint("NOT (is_na AND value IS NOT NULL)", name="na_has_no_value"),)


class AssessmentScore(Base):
    """The explained score stored at submit for fast reads; recomputable from the answers."""

    __tablename__ = "assessment_score"

    assessment_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("assessment.id", ondelete="CASCADE"), primary_key=True
    )
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    overall: Mapped[float | None] = mapped_column(Float)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    # the API's answer, rounded and serialized once at submit (reads send these bytes as they are)
    rendered: Mapped[str | None] = mapped_column(Text)
    # the rules that made it (app.services.scores.ENGINE_VERSION); null: before it was recorded
    engine_version: Mapped[int | None] = mapped_column(Integer, index=True)


class RoundPair(Base):
    """Two current rounds of one organization compared on the items answered in both, on the
    instrument's latest version (DESIGN §6): the numbers a cohort comparison shows for them,
    made when either round is scored (``app.services.round_pairs``), so a cohort read uses
    numbers rather than answers. Valid while the version compared on, the engine and both
    stored scores are the ones it names; a read that finds it out of date compares the rounds
    itself. ``first_id`` is the lower id; ``numbers`` reads it as the baseline."""

    __tablename__ = "round_pair"

    first_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("assessment.id", ondelete="CASCADE"), primary_key=True
    )
    second_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("assessment.id", ondelete="CASCADE"), primary_key=True
    )
    compared_on: Mapped[str] = mapped_column(String(32))
    engine_version: Mapped[int] = mapped_column(Integer)
    first_scored_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    second_scored_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # {"first": flat scores | null, "second": ..., "left_out": [[item, code], ...]}; both null:
    # the rounds cannot be compared on the version compared on
    numbers: Mapped[dict[str, Any]] = mapped_column(JSON)

    __table_args__ = (Index("ix_round_pair_second_id", "second_id"),)


class AuditEvent(Base):
    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspace.id"))
    api_key_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    actor: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str | None] = mapped_column(String(64))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    changes: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    __table_args__ = (Index("ix_audit_event_workspace_id_id", "workspace_id", "id"),)


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_record"

    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspace.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


# --- people who use the web pages ----------------------------------------------------------------


class Person(Base):
    """Someone who signs in to the web pages with an e-mail and a password (not an API key)."""

    __tablename__ = "person"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    email: Mapped[str] = mapped_column(String(254), unique=True)  # stored lower-cased
    name: Mapped[str] = mapped_column(String(120))
    # Argon2id; null until an invitation is accepted (no password can match it)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Membership(Base):
    """A person's role in one workspace; the same roles as API keys."""

    __tablename__ = "membership"

    person_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("person.id", ondelete="CASCADE"), primary_key=True
    )
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspace.id"), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("role in ('admin', 'editor', 'viewer')", name="role"),
        Index("ix_membership_workspace_id", "workspace_id"),
    )


class WebSession(Base):
    """A signed-in browser: only a hash of the cookie's secret is stored, so a database read
    cannot sign anyone in. Revoked on sign-out and when the person loses the workspace."""

    __tablename__ = "web_session"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    person_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("person.id", ondelete="CASCADE"), index=True
    )
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspace.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # absolute expiry
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class OneTimeLink(Base):
    """An invitation or a password reset: a link shown once, used once, expiring."""

    __tablename__ = "one_time_link"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    purpose: Mapped[str] = mapped_column(String(16))
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (CheckConstraint("purpose in ('invite', 'reset')", name="purpose"),)


class SignInAttempt(Base):
    """Each sign-in, kept so that repeated failures slow down on every worker alike."""

    __tablename__ = "sign_in_attempt"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(254))
    address: Mapped[str] = mapped_column(String(64))
    succeeded: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_sign_in_attempt_email_at", "email", "at"),
        Index("ix_sign_in_attempt_address_at", "address", "at"),
    )


class RateWindow(Base):
    """Requests counted per client and minute, summed over every worker (app.services.rates)."""

    __tablename__ = "rate_window"

    bucket: Mapped[str] = mapped_column(String(80), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger)


class WebhookSubscription(Base):
    """A partner application's endpoint: which events of one workspace it is sent, signed with
    its secret (kept in clear: the receiver needs the same bytes to check the signature)."""

    __tablename__ = "webhook_subscription"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspace.id"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str] = mapped_column(String(200))
    events: Mapped[list[str]] = mapped_column(JSON)
    description: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean)
    paused_reason: Mapped[str | None] = mapped_column(Text)
    failures_in_row: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class WebhookEvent(Base):
    """Something that happened, written in the transaction that made it happen (the outbox)."""

    __tablename__ = "webhook_event"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspace.id"), index=True)
    type: Mapped[str] = mapped_column(String(40))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class WebhookDelivery(Base):
    """One event owed to one subscription, until it is delivered or given up. A runner claims
    it for a while (``claimed_until``); a runner that dies lets the claim lapse, another takes
    it."""

    __tablename__ = "webhook_delivery"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    event_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_event.id", ondelete="CASCADE"), index=True
    )
    subscription_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_subscription.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    claim: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("status in ('pending', 'delivered', 'failed')", name="status"),
        Index("ix_webhook_delivery_due", "status", "next_attempt_at"),
    )


class WebhookAttempt(Base):
    """Each try of a delivery: what the receiver answered, or why it could not be reached."""

    __tablename__ = "webhook_attempt"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    delivery_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_delivery.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int] = mapped_column(Integer)


class Job(Base):
    """Long work (an import of many workbooks, a large export) done outside the request: what a
    client polls. A runner claims a queued job for a while (``claimed_until``, renewed while it
    works); a runner that dies lets the claim lapse, and the job is queued again or, after its
    last attempt, failed with the reason (app/services/jobs.py)."""

    __tablename__ = "job"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspace.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(16))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    # who asked, as the import and the audit log need it: key or person, name, role
    principal: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(160))
    progress_done: Mapped[int] = mapped_column(Integer, default=0)
    progress_total: Mapped[int | None] = mapped_column(Integer)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    file_name: Mapped[str | None] = mapped_column(String(200))  # a download the job made
    file_type: Mapped[str | None] = mapped_column(String(120))
    error: Mapped[str | None] = mapped_column(Text)
    error_es: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer)
    claim: Mapped[str | None] = mapped_column(String(32))
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("status in ('queued', 'running', 'succeeded', 'failed')", name="status"),
        Index("ix_job_status_created_at", "status", "created_at"),
    )


# The facilitated practice (action plans, raters, verification, evidence) lives in its own module;
# named here too so that every row is found in one place.
from app.db.facilitation import (  # noqa: E402
    ActionPlan,
    Evidence,
    PlanAction,
    PlanPriority,
    Rater,
    Rating,
    VerifiedAnswer,
)

__all__ = [
    "ActionPlan",
    "Evidence",
    "EvidenceStatus",
    "PlanAction",
    "PlanPriority",
    "Rater",
    "Rating",
    "Role",
    "Status",
    "VerifiedAnswer",
]
