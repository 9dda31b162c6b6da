"""drop the read cache's change counting

The in-process read cache is gone: every read is computed from the database as it is, so any
worker answers the same and nothing needs to hear about changes. The triggers of 0004 (a
notification per statement on PostgreSQL, a counter bumped per row on SQLite) only cost writes.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = (
    "workspace",
    "organization",
    "cohort",
    "cohort_member",
    "assessment",
    "answer",
    "assessment_score",
)
EVENTS = ("insert", "update", "delete")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS oca_notify_change ON {table}")
        op.execute("DROP FUNCTION IF EXISTS oca_notify_change()")
    else:
        for table in TABLES:
            for event in EVENTS:
                op.execute(f"DROP TRIGGER IF EXISTS count_{event}_{table}")
    op.drop_table("change_counter")


def downgrade() -> None:
    op.create_table(
        "change_counter",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("changes", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_change_counter_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_counter")),
    )
    op.execute("INSERT INTO change_counter (id, changes) VALUES (1, 0)")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION oca_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN PERFORM pg_notify('oca_changes', ''); RETURN NULL; END $$"
        )
        for table in TABLES:
            op.execute(
                f"CREATE TRIGGER oca_notify_change AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
                f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION oca_notify_change()"
            )
    else:
        for table in TABLES:
            for event in EVENTS:
                op.execute(
                    f"CREATE TRIGGER count_{event}_{table} AFTER {event.upper()} ON {table} "
                    "BEGIN UPDATE change_counter SET changes = changes + 1 WHERE id = 1; END"
                )
