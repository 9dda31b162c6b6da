"""round pairs: two rounds' numbers on their common items, made when a round is scored

A cohort comparison shows, for an organization whose two rounds answered different items, both
rounds scored again on the items answered in both. Those numbers depend only on the two rounds'
stored scores and the version compared on, so they are now made when a round is scored and read
by the comparison, instead of being made from the answers at every read. The table starts
empty: ``oca serve`` fills it before it serves, and a read compares any pair it lacks itself.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-05 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "round_pair",
        sa.Column("first_id", sa.Uuid(), nullable=False),
        sa.Column("second_id", sa.Uuid(), nullable=False),
        sa.Column("compared_on", sa.String(length=32), nullable=False),
        sa.Column("engine_version", sa.Integer(), nullable=False),
        sa.Column("first_scored_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("second_scored_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("numbers", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["first_id"],
            ["assessment.id"],
            name=op.f("fk_round_pair_first_id_assessment"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["second_id"],
            ["assessment.id"],
            name=op.f("fk_round_pair_second_id_assessment"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("first_id", "second_id", name=op.f("pk_round_pair")),
    )
    op.create_index("ix_round_pair_second_id", "round_pair", ["second_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_round_pair_second_id", table_name="round_pair")
    op.drop_table("round_pair")
