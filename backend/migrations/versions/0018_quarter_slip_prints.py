"""slip prints: a campaign's slips printed by a job, with progress and the PDF for a day

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 07:45:00.000000

"""
import sqlalchemy as sa
from alembic import op

import backend.models.types


# revision identifiers, used by Alembic.
revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('slip_prints',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('requested_by', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('done', sa.Integer(), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('pdf', sa.LargeBinary(), nullable=True),
    sa.Column('error', sa.String(length=500), nullable=True),
    sa.Column('created_at', backend.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', backend.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('slip_prints', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_slip_prints_campaign_id'), ['campaign_id'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('slip_prints', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_slip_prints_campaign_id'))
    op.drop_table('slip_prints')
