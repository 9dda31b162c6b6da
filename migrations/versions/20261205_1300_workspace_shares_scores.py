"""workspace shares anonymized scores

A workspace may opt in to share its organizations' scores, anonymized, with the other workspaces
that opt in too, so that an organization can see where it stands among peers beyond its own
funder's portfolio. Off for every existing workspace: sharing is a decision an admin takes.

Revision ID: 0020
Revises: 0018
Create Date: 2026-12-05 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Plain ALTER TABLE on both databases: a batch (copy and rename) of ``workspace`` on SQLite
# would drop a table that every other table refers to.


def upgrade() -> None:
    op.add_column(
        "workspace",
        sa.Column("shares_scores", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    op.drop_column("workspace", "shares_scores")
