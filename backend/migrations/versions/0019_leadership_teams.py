"""leadership teams: cadres.kind tells an official from a unit's leadership team (one per unit)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 10:45:00.000000

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('cadres', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=10), nullable=False,
                                      server_default='official'))
    op.create_index('uq_cadres_team_unit', 'cadres', ['unit_id'], unique=True,
                    sqlite_where=sa.text("kind = 'team'"),
                    postgresql_where=sa.text("kind = 'team'"))


def downgrade():
    op.drop_index('uq_cadres_team_unit', table_name='cadres')
    with op.batch_alter_table('cadres', schema=None) as batch_op:
        batch_op.drop_column('kind')
