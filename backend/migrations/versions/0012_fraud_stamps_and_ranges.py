"""fraud signals: unstamped submissions per funnel counter, keyed network range per signal

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 05:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('funnel_counts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('unstamped', sa.Integer(), nullable=False,
                                      server_default='0'))
    with op.batch_alter_table('abuse_signals', schema=None) as batch_op:
        batch_op.add_column(sa.Column('net_hash', sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_abuse_signals_net_hash'), ['net_hash'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('abuse_signals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_abuse_signals_net_hash'))
        batch_op.drop_column('net_hash')
    with op.batch_alter_table('funnel_counts', schema=None) as batch_op:
        batch_op.drop_column('unstamped')
