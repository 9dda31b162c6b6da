"""a performance metric on assessments (for the CBLD-9 indicator)

CBLD-9 counts organizations that planned and pursued improvement on a named performance metric,
and those that improved on it. Until there is an action plan, the metric is recorded on the
assessment: its name, the value measured at that assessment, and whether higher is better.
All three are optional; existing assessments have none.

Plain ADD COLUMN on both databases (no table rebuild on SQLite).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 04:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("assessment", sa.Column("performance_metric", sa.String(200), nullable=True))
    op.add_column("assessment", sa.Column("performance_value", sa.Float(), nullable=True))
    op.add_column(
        "assessment", sa.Column("performance_higher_is_better", sa.Boolean(), nullable=True)
    )


def downgrade() -> None:
    # plain DROP COLUMN (SQLite 3.35+), no batch rebuild of the table
    for column in ("performance_higher_is_better", "performance_value", "performance_metric"):
        op.drop_column("assessment", column)
