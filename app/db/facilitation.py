"""ORM rows of the facilitated practice around an assessment (issue 12): its action plan, its
raters and their ratings, verified values, and the evidence on its items."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db.base import Base, ItemValue
from app.domain.enums import EvidenceStatus

# --- action plans (issue 12) ---------------------------------------------------------------------


class ActionPlan(Base):
    """The capacity development plan made from one assessment. The metric the organization plans
    to improve is the assessment's own performance columns (not repeated here). Every change to a
    priority or an action bumps ``row_version``: one ETag guards the whole plan."""

    __tablename__ = "action_plan"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspace.id"), index=True)
    assessment_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("assessment.id", ondelete="CASCADE"), unique=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    row_version: Mapped[int] = mapped_column(Integer, default=1)

    priorities: Mapped[list[PlanPriority]] = relationship(
        back_populates="plan", cascade="all, delete-orphan", order_by="PlanPriority.position"
    )
    __mapper_args__ = {"version_id_col": row_version}  # noqa: RUF012


class PlanPriority(Base):
    """One weak area the organization chose to work on."""

    __tablename__ = "plan_priority"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    plan_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("action_plan.id", ondelete="CASCADE"), index=True
    )
    area_key: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(Text)

    plan: Mapped[ActionPlan] = relationship(back_populates="priorities")
    actions: Mapped[list[PlanAction]] = relationship(
        back_populates="priority", cascade="all, delete-orphan", order_by="PlanAction.position"
    )
    __table_args__ = (UniqueConstraint("plan_id", "area_key"),)


class PlanAction(Base):
    """What will be done for a priority, by whom and when, and how it is going."""

    __tablename__ = "plan_action"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    priority_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("plan_priority.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    what: Mapped[str] = mapped_column(Text)
    who: Mapped[str | None] = mapped_column(String(200))
    due_on: Mapped[date | None] = mapped_column(Date)
    resources: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="planned")
    progress: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    priority: Mapped[PlanPriority] = relationship(back_populates="actions")
    __table_args__ = (
        CheckConstraint(
            "status in ('planned', 'in_progress', 'done', 'dropped')", name="action_status"
        ),
    )


# --- raters of a facilitated assessment (issue 12) -----------------------------------------------


class Rater(Base):
    """One participant of a facilitated assessment, known by a code ("R07"); the name is
    optional and shown only to editors and admins. The assessment's own answers are the
    consensus; a rater's ratings stay stored beside them."""

    __tablename__ = "rater"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    assessment_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("assessment.id", ondelete="CASCADE"), index=True
    )
    code: Mapped[str] = mapped_column(String(16))
    name: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # the rater's own link (docs/raters.md): only the SHA-256 of its secret is kept
    link_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    link_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    link_revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    ratings: Mapped[list[Rating]] = relationship(
        back_populates="rater", cascade="all, delete-orphan", order_by="Rating.position"
    )
    __table_args__ = (UniqueConstraint("assessment_id", "code"),)


class Rating(ItemValue, Base):
    """One rater's answer to one item: a scale value, N/A, or (with only a note) no value."""

    __tablename__ = "rating"

    rater_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("rater.id", ondelete="CASCADE"), primary_key=True
    )

    rater: Mapped[Rater] = relationship(back_populates="ratings")

    __table_args__ = (CheckConstraint("NOT (is_na AND value IS NOT NULL)", name="na_has_no_value"),)


class VerifiedAnswer(ItemValue, Base):
    """An item's value after its evidence was reviewed (OPI verification), beside the
    assessment's own answer (the self-score): a scale value or N/A, who verified it and when."""

    __tablename__ = "verified_answer"

    assessment_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("assessment.id", ondelete="CASCADE"), primary_key=True
    )
    verified_by: Mapped[str] = mapped_column(String(120))
    verified_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (CheckConstraint("is_na <> (value IS NOT NULL)", name="value_or_na"),)


# --- evidence on items (issue 12) ----------------------------------------------------------------


class Evidence(Base):
    """A file or a link that backs one item's answer of an assessment, and how far it has been
    checked. A file's bytes live in the evidence store (app.services.evidence_store) under
    ``storage_key``, a random name the service made; the row keeps what the store cannot vouch
    for: the name it was sent under, its type as read from its bytes, its size and SHA-256."""

    __tablename__ = "evidence"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    assessment_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("assessment.id", ondelete="CASCADE"), index=True
    )
    item_key: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(8))
    title: Mapped[str] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(String(2000))
    storage_key: Mapped[str | None] = mapped_column(String(64))
    file_name: Mapped[str | None] = mapped_column(String(255))
    media_type: Mapped[str | None] = mapped_column(String(120))
    size: Mapped[int | None] = mapped_column(Integer)
    sha256: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default=EvidenceStatus.self_reported)
    status_by: Mapped[str] = mapped_column(String(160))
    status_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(160))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("status in ('self_reported', 'reviewed', 'verified')", name="status"),
        CheckConstraint(
            "(kind = 'file' AND storage_key IS NOT NULL AND sha256 IS NOT NULL AND url IS NULL)"
            " OR (kind = 'link' AND url IS NOT NULL AND storage_key IS NULL)",
            name="file_or_link",
        ),
        # the same file or link twice on one item is refused by the database itself
        UniqueConstraint("assessment_id", "item_key", "sha256"),
        UniqueConstraint("assessment_id", "item_key", "url"),
    )
