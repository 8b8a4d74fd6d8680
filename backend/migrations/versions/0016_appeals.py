"""appeals (申诉复核) and two-person decisions (四眼原则)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 07:40:00.000000

"""
import sqlalchemy as sa
from alembic import op

import backend.models.types


# revision identifiers, used by Alembic.
revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade():
    op.create_table('appeals',
    sa.Column('id', ID, nullable=False),
    sa.Column('case_id', ID, nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.String(length=20), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('evidence', sa.Text(), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('filed_by', sa.String(length=64), nullable=False),
    sa.Column('filed_at', backend.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('decided_by', sa.String(length=64), nullable=True),
    sa.Column('decided_at', backend.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('decision_note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_appeals_case_id_cases')),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_appeals_unit_id_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_appeals')),
    sa.UniqueConstraint('case_id', name=op.f('uq_appeals_case_id'))
    )
    with op.batch_alter_table('appeals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_appeals_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_appeals_unit_id'), ['unit_id'], unique=False)

    op.create_table('two_person_decisions',
    sa.Column('id', ID, nullable=False),
    sa.Column('subject', sa.String(length=60), nullable=False),
    sa.Column('action', sa.String(length=20), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('first_by', sa.String(length=64), nullable=False),
    sa.Column('first_at', backend.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('first_note', sa.String(length=500), nullable=False),
    sa.Column('second_by', sa.String(length=64), nullable=True),
    sa.Column('second_at', backend.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('second_note', sa.String(length=500), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_two_person_decisions')),
    sa.UniqueConstraint('subject', 'action', name=op.f('uq_two_person_decisions_subject_action'))
    )


def downgrade():
    op.drop_table('two_person_decisions')
    with op.batch_alter_table('appeals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_appeals_unit_id'))
        batch_op.drop_index(batch_op.f('ix_appeals_status'))

    op.drop_table('appeals')
