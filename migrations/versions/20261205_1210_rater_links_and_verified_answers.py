"""rater links and verified answers

A rater's own link (the SHA-256 of its secret, when it expires, when it was revoked) and when the
rater said they had finished; and per item of an assessment a verified value (OPI verification)
beside its answer, with who verified it and when.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05 12:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("rater", schema=None) as batch_op:
        batch_op.add_column(sa.Column("link_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("link_expires_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("link_revoked_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_rater_link_hash"), ["link_hash"])

    op.create_table(
        "verified_answer",
        sa.Column("assessment_id", sa.Uuid(), nullable=False),
        sa.Column("item_key", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("is_na", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("verified_by", sa.String(length=120), nullable=False),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "is_na <> (value IS NOT NULL)", name=op.f("ck_verified_answer_value_or_na")
        ),
        sa.ForeignKeyConstraint(
            ["assessment_id"],
            ["assessment.id"],
            name=op.f("fk_verified_answer_assessment_id_assessment"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("assessment_id", "item_key", name=op.f("pk_verified_answer")),
    )


def downgrade() -> None:
    op.drop_table("verified_answer")
    with op.batch_alter_table("rater", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_rater_link_hash"), type_="unique")
        batch_op.drop_column("finished_at")
        batch_op.drop_column("link_revoked_at")
        batch_op.drop_column("link_expires_at")
        batch_op.drop_column("link_hash")
