"""report batches: a unit's feedback reports printed as one PDF by a job

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 08:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

import backend.models.types


# revision identifiers, used by Alembic.
revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('report_batches',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('period', sa.String(length=10), nullable=False),
    sa.Column('with_subordinates', sa.Boolean(), nullable=False),
    sa.Column('with_comments', sa.Boolean(), nullable=False),
    sa.Column('requested_by', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('done', sa.Integer(), nullable=False),
    sa.Column('pdf', sa.LargeBinary(), nullable=True),
    sa.Column('error', sa.String(length=500), nullable=True),
    sa.Column('created_at', backend.models.types.UTCDateTime(), nullable=False),
    sa.Column('finished_at', backend.models.types.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_report_batches_unit_id_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_batches'))
    )
    with op.batch_alter_table('report_batches', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_report_batches_unit_id'), ['unit_id'], unique=False)


def downgrade():
    with op.batch_alter_table('report_batches', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_report_batches_unit_id'))
    op.drop_table('report_batches')
