"""count changes for the read cache

The read cache (app/api/reads.py) keeps rendered answers until the tables they are computed from
change, in any process. Those tables get triggers:

* PostgreSQL: a statement trigger that signals the ``oca_changes`` channel; PostgreSQL delivers
  one notification per transaction however many statements fire it.
* SQLite: row triggers that bump the single row of ``change_counter``, which each server reads
  before answering from its cache (SQLite has no notifications; the row costs a few microseconds
  to read and nothing to contend for, since SQLite writers are serialized anyway).

Keys, audit events and idempotency records are left out: a key's last-use time is written once
a minute and must not empty every cache. A cached read that reads another table must add it here.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
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


def upgrade() -> None:
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
            """
            CREATE FUNCTION oca_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                PERFORM pg_notify('oca_changes', '');
                RETURN NULL;
            END $$
            """
        )
        for table in TABLES:
            op.execute(
                f"CREATE TRIGGER oca_notify_change AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
                f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION oca_notify_change()"
            )
    else:
        for table in TABLES:
            for event in ("insert", "update", "delete"):
                op.execute(
                    f"CREATE TRIGGER count_{event}_{table} AFTER {event.upper()} ON {table} "
                    "BEGIN UPDATE change_counter SET changes = changes + 1 WHERE id = 1; END"
                )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"DROP TRIGGER oca_notify_change ON {table}")
        op.execute("DROP FUNCTION oca_notify_change()")
    else:
        for table in TABLES:
            for event in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER count_{event}_{table}")
    op.drop_table("change_counter")
