"""workspace instruments

A workspace's own instrument versions (drafts and published) are rows of instrument_version with
their workspace, status, canonical text and who made and published them; the shipped library's
rows keep a NULL workspace and no text (theirs is the file).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 12:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # SQLite adds a column with its reference in place; batch mode would rebuild the table,
        # which assessments reference
        op.execute(
            "ALTER TABLE instrument_version ADD COLUMN workspace_id CHAR(32) "
            "REFERENCES workspace (id)"
        )
    else:
        op.add_column("instrument_version", sa.Column("workspace_id", sa.Uuid(), nullable=True))
        op.create_foreign_key(
            op.f("fk_instrument_version_workspace_id_workspace"),
            "instrument_version",
            "workspace",
            ["workspace_id"],
            ["id"],
        )
    with op.batch_alter_table("instrument_version") as batch:
        batch.add_column(
            sa.Column("status", sa.String(length=16), server_default="published", nullable=False)
        )
        batch.add_column(sa.Column("content", sa.Text(), nullable=True))
        batch.add_column(sa.Column("derived_from", sa.String(length=80), nullable=True))
        batch.add_column(sa.Column("created_by", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("published_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("published_by", sa.String(length=200), nullable=True))
    op.create_index(
        op.f("ix_instrument_version_workspace_id"), "instrument_version", ["workspace_id"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_instrument_version_workspace_id"), table_name="instrument_version")
    if op.get_bind().dialect.name != "sqlite":  # SQLite's reference has no name: it goes along
        op.drop_constraint(
            op.f("fk_instrument_version_workspace_id_workspace"),
            "instrument_version",
            type_="foreignkey",
        )
    with op.batch_alter_table("instrument_version") as batch:
        for column in (
            "published_by",
            "published_at",
            "created_by",
            "derived_from",
            "content",
            "status",
            "workspace_id",
        ):
            batch.drop_column(column)
