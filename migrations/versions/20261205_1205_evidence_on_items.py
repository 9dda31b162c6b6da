"""evidence on items

Files and links that back an item's answer, each with its verification status (self-reported,
reviewed, verified), who set it and when. A file's bytes are not in the row: they live in the
evidence store under a random key; the row keeps the name, type, size and SHA-256.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 12:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('evidence',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('assessment_id', sa.Uuid(), nullable=False),
    sa.Column('item_key', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('url', sa.String(length=2000), nullable=True),
    sa.Column('storage_key', sa.String(length=64), nullable=True),
    sa.Column('file_name', sa.String(length=255), nullable=True),
    sa.Column('media_type', sa.String(length=120), nullable=True),
    sa.Column('size', sa.Integer(), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('status_by', sa.String(length=160), nullable=False),
    sa.Column('status_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=160), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("(kind = 'file' AND storage_key IS NOT NULL AND sha256 IS NOT NULL AND url IS NULL) OR (kind = 'link' AND url IS NOT NULL AND storage_key IS NULL)", name=op.f('ck_evidence_file_or_link')),
    sa.CheckConstraint("status in ('self_reported', 'reviewed', 'verified')", name=op.f('ck_evidence_status')),
    sa.ForeignKeyConstraint(['assessment_id'], ['assessment.id'], name=op.f('fk_evidence_assessment_id_assessment'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_evidence')),
    sa.UniqueConstraint('assessment_id', 'item_key', 'sha256', name=op.f('uq_evidence_assessment_id_item_key_sha256')),
    sa.UniqueConstraint('assessment_id', 'item_key', 'url', name=op.f('uq_evidence_assessment_id_item_key_url'))
    )
    with op.batch_alter_table('evidence', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_evidence_assessment_id'), ['assessment_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('evidence', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_evidence_assessment_id'))

    op.drop_table('evidence')
