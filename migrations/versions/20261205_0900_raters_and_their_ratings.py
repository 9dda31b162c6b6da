"""raters and their ratings

The participants of a facilitated assessment (a code, an optional name) and each one's own
answer to every item, kept beside the assessment's answers (the consensus).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('rater',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('assessment_id', sa.Uuid(), nullable=False),
    sa.Column('code', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['assessment_id'], ['assessment.id'], name=op.f('fk_rater_assessment_id_assessment'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rater')),
    sa.UniqueConstraint('assessment_id', 'code', name=op.f('uq_rater_assessment_id_code'))
    )
    with op.batch_alter_table('rater', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rater_assessment_id'), ['assessment_id'], unique=False)

    op.create_table('rating',
    sa.Column('rater_id', sa.Uuid(), nullable=False),
    sa.Column('item_key', sa.String(length=64), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('value', sa.Float(), nullable=True),
    sa.Column('is_na', sa.Boolean(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.CheckConstraint('NOT (is_na AND value IS NOT NULL)', name=op.f('ck_rating_na_has_no_value')),
    sa.ForeignKeyConstraint(['rater_id'], ['rater.id'], name=op.f('fk_rating_rater_id_rater'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('rater_id', 'item_key', name=op.f('pk_rating'))
    )


def downgrade() -> None:
    op.drop_table('rating')
    with op.batch_alter_table('rater', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rater_assessment_id'))

    op.drop_table('rater')
