"""cases (整改单) and their history

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 04:31:42.041514

"""
import sqlalchemy as sa
from alembic import op

import backend.models.types


# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('cases',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('key', sa.String(length=120), nullable=False),
    sa.Column('source', sa.String(length=10), nullable=False),
    sa.Column('cadre_id', sa.Integer(), nullable=True),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('rating_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('flag', sa.String(length=40), nullable=True),
    sa.Column('period', sa.String(length=10), nullable=True),
    sa.Column('assignee_role', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('due_at', backend.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_at', backend.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', backend.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('reply', sa.Text(), nullable=True),
    sa.Column('measures', sa.Text(), nullable=True),
    sa.Column('callback', sa.String(length=12), nullable=True),
    sa.Column('closed_at', backend.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('closed_on_time', sa.Boolean(), nullable=True),
    sa.Column('hours_to_close', sa.Integer(), nullable=True),
    sa.Column('recheck_due', backend.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reopened', sa.Integer(), nullable=False),
    sa.Column('escalated_at', backend.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('verdict', sa.String(length=12), nullable=True),
    sa.Column('report_kind', sa.String(length=20), nullable=True),
    sa.Column('report_text', sa.Text(), nullable=True),
    sa.Column('contact_enc', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['cadre_id'], ['cadres.id'], name=op.f('fk_cases_cadre_id_cadres')),
    sa.ForeignKeyConstraint(['rating_id'], ['ratings.id'], name=op.f('fk_cases_rating_id_ratings')),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_cases_unit_id_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cases')),
    sa.UniqueConstraint('key', name=op.f('uq_cases_key')),
    sa.UniqueConstraint('rating_id', name=op.f('uq_cases_rating_id'))
    )
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cases_cadre_id'), ['cadre_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_status'), ['status'], unique=False)
        batch_op.create_index('ix_cases_status_due', ['status', 'due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_unit_id'), ['unit_id'], unique=False)

    op.create_table('case_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('case_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('at', backend.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=20), nullable=False),
    sa.Column('from_status', sa.String(length=20), nullable=True),
    sa.Column('to_status', sa.String(length=20), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_events_case_id_cases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_events'))
    )
    with op.batch_alter_table('case_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_events_case_id'), ['case_id'], unique=False)



def downgrade():
    with op.batch_alter_table('case_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_events_case_id'))

    op.drop_table('case_events')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cases_unit_id'))
        batch_op.drop_index('ix_cases_status_due')
        batch_op.drop_index(batch_op.f('ix_cases_status'))
        batch_op.drop_index(batch_op.f('ix_cases_cadre_id'))

    op.drop_table('cases')
