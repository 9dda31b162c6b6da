"""organization name key

A workbook's cover names its organization; the import finds the workspace's organization of that
name with case and spacing folded. It read every organization's name to do so (10,000 rows per
workbook on a national portfolio); the folded name is now stored with each organization and
indexed, so the import reads only the rows that can match. Rows the migration cannot reach
(written later by SQL outside the application) keep an empty key and are still compared.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1000

organization = sa.table(
    "organization",
    sa.column("id", sa.Uuid()),
    sa.column("name", sa.String()),
    sa.column("name_key", sa.String()),
)


def name_key(name: str) -> str:
    """``app.domain.names.name_key`` as it is today (a copy: a migration does not follow the app)."""
    return " ".join(name.casefold().split())


def upgrade() -> None:
    with op.batch_alter_table("organization") as batch:
        batch.add_column(sa.Column("name_key", sa.String(length=600), nullable=True))
    bind = op.get_bind()
    rows = bind.execute(sa.select(organization.c.id, organization.c.name)).all()
    for start in range(0, len(rows), BATCH):
        bind.execute(
            sa.update(organization)
            .where(organization.c.id == sa.bindparam("org_id"))
            .values(name_key=sa.bindparam("key")),
            [{"org_id": i, "key": name_key(n)} for i, n in rows[start : start + BATCH]],
        )
    op.create_index(
        "ix_organization_workspace_name_key", "organization", ["workspace_id", "name_key"]
    )


def downgrade() -> None:
    op.drop_index("ix_organization_workspace_name_key", table_name="organization")
    with op.batch_alter_table("organization") as batch:
        batch.drop_column("name_key")
