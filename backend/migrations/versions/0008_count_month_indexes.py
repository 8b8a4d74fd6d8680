"""count tables indexed by month

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-21 20:50:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('rating_counts', schema=None) as batch_op:
        batch_op.create_index('ix_rating_counts_month_cadre', ['month', 'cadre_id'], unique=False)
    with op.batch_alter_table('rating_tag_counts', schema=None) as batch_op:
        batch_op.create_index('ix_rating_tag_counts_month_cadre', ['month', 'cadre_id'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('rating_tag_counts', schema=None) as batch_op:
        batch_op.drop_index('ix_rating_tag_counts_month_cadre')
    with op.batch_alter_table('rating_counts', schema=None) as batch_op:
        batch_op.drop_index('ix_rating_counts_month_cadre')
