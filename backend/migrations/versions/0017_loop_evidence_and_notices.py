"""case evidence files, case notices to assignees, console users' notice contacts

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 07:40:00.000000

"""
import sqlalchemy as sa
from alembic import op

import backend.models.types

# revision identifiers, used by Alembic.
revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade():
    op.create_table('case_evidence',
    sa.Column('id', BIG_ID, nullable=False),
    sa.Column('case_id', BIG_ID, nullable=False),
    sa.Column('stored_name', sa.String(length=64), nullable=False),
    sa.Column('filename', sa.String(length=120), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('uploaded_by', sa.String(length=64), nullable=False),
    sa.Column('uploaded_at', backend.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'],
                            name=op.f('fk_case_evidence_case_id_cases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_evidence')),
    sa.UniqueConstraint('stored_name', name=op.f('uq_case_evidence_stored_name'))
    )
    with op.batch_alter_table('case_evidence', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_evidence_case_id'), ['case_id'], unique=False)

    op.create_table('case_notices',
    sa.Column('id', BIG_ID, nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('case_id', BIG_ID, nullable=True),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('text', sa.String(length=300), nullable=False),
    sa.Column('created_at', backend.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('read_at', backend.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_notices_case_id_cases')),
    sa.ForeignKeyConstraint(['user_id'], ['console_users.id'],
                            name=op.f('fk_case_notices_user_id_console_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_notices'))
    )
    with op.batch_alter_table('case_notices', schema=None) as batch_op:
        batch_op.create_index('ix_case_notices_user_read', ['user_id', 'read_at'], unique=False)

    with op.batch_alter_table('console_users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('phone_enc', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('openid_enc', sa.Text(), nullable=True))

    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('notice_id', BIG_ID, nullable=True))
        batch_op.create_index(batch_op.f('ix_deliveries_notice_id'), ['notice_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_deliveries_notice_id_case_notices'),
                                    'case_notices', ['notice_id'], ['id'])


def downgrade():
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_deliveries_notice_id_case_notices'),
                                 type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_deliveries_notice_id'))
        batch_op.drop_column('notice_id')

    with op.batch_alter_table('console_users', schema=None) as batch_op:
        batch_op.drop_column('openid_enc')
        batch_op.drop_column('phone_enc')

    with op.batch_alter_table('case_notices', schema=None) as batch_op:
        batch_op.drop_index('ix_case_notices_user_read')
    op.drop_table('case_notices')

    with op.batch_alter_table('case_evidence', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_evidence_case_id'))
    op.drop_table('case_evidence')
