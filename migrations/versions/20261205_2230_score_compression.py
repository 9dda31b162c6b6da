"""stored scores compressed with lz4 on PostgreSQL (where the server has it)

A stored score's payload and rendered answer are about 17 KB of JSON each, which PostgreSQL
compresses out of line. Its default method (pglz) was the larger part of the database's CPU in a
rescoring of 50,000 scores (bench/scale.py: 20,000 rescored in 21.6 s with pglz, 17.6 s with lz4,
values 7 % larger). New values are written with lz4; those already stored stay as they are until
they are written again. SQLite, and a PostgreSQL built without lz4, are left as they are.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-05 22:30:00
"""

from collections.abc import Sequence

from alembic import op
from sqlalchemy import text

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = ("payload", "rendered")


def _offered() -> list[str] | None:
    """The compression methods the PostgreSQL server offers (None: not PostgreSQL 14 or later)."""
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return None
    found = bind.execute(
        text("SELECT enumvals FROM pg_settings WHERE name = 'default_toast_compression'")
    ).scalar()
    return list(found) if found else None


def _set(method: str) -> None:
    columns = ", ".join(f"ALTER COLUMN {c} SET COMPRESSION {method}" for c in _COLUMNS)
    op.execute(f"ALTER TABLE assessment_score {columns}")


def upgrade() -> None:
    if "lz4" in (_offered() or []):
        _set("lz4")


def downgrade() -> None:
    if _offered() is not None:
        _set("DEFAULT")  # the server's default again, as before the upgrade
