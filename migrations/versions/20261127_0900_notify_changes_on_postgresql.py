"""notify changes on postgresql

Every table gets a statement trigger that signals the ``oca_changes`` channel, so that each
server process can drop its cached reads when any process commits a change (app/db/changes.py).
PostgreSQL delivers one notification per transaction however many statements fire it. SQLite
needs nothing: its ``PRAGMA data_version`` plays this part.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 09:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = (
    "workspace",
    "api_key",
    "instrument_version",
    "organization",
    "cohort",
    "cohort_member",
    "assessment",
    "answer",
    "assessment_score",
    "audit_event",
    "idempotency_record",
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
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


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"DROP TRIGGER oca_notify_change ON {table}")
    op.execute("DROP FUNCTION oca_notify_change()")
