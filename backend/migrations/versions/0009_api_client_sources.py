"""api clients post events only for their own sources

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 10:00:00.000000

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('api_clients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sources', sa.Text(), nullable=True))
    # Every existing client keeps posting under its own name, the old default.
    op.execute("UPDATE api_clients SET sources = name")
    with op.batch_alter_table('api_clients', schema=None) as batch_op:
        batch_op.alter_column('sources', existing_type=sa.Text(), nullable=False)


def downgrade():
    with op.batch_alter_table('api_clients', schema=None) as batch_op:
        batch_op.drop_column('sources')
