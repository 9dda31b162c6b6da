"""record the engine version of stored scores

A column beside each stored score says which rules made it, so the stale ones are found with one
indexed query instead of reading every stored summary. Existing rows get no version and are
recomputed at the next start (``app.services.stale_scores``).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 05:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("assessment_score", sa.Column("engine_version", sa.Integer(), nullable=True))
    op.create_index(
        op.f("ix_assessment_score_engine_version"), "assessment_score", ["engine_version"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_assessment_score_engine_version"), table_name="assessment_score")
    op.drop_column("assessment_score", "engine_version")
