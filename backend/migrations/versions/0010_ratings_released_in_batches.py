"""ratings released in batches; uses and openings as keyed tags; ratings carry a MAC

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 01:30:35.408579

Data moves with the schema, with the keys of RATING_SEAL_KEYS (read from the application's
configuration, never stored): each used invitation becomes a use tag and each recorded first
opening an open tag, their counts go to the funnel and turnout counters, every rating gets its
MAC (its hour stays as its batch time), campaign reminders name their ballot sealed instead of
their rater, and stored messages lose their links. Then the marks that linked a rating's
moment to its invitation (`invitations.used_at`, `invitation_uses`, `invitation_opens`) go.
The downgrade is refused: it would have to write those marks back.
"""
import re
from collections import Counter
from zoneinfo import ZoneInfo

from alembic import op
import sqlalchemy as sa
from flask import current_app

import backend.models.types
from backend.services.sealing.mac import mac_content
from backend.services.sealing.seal import Sealer


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

LINK = re.compile(r"https?://[^\s]+/r/[A-Za-z0-9_-]{20}\.[A-Za-z0-9_-]+")
PLACEHOLDER = "{评价链接}"
BATCH = 1000


def upgrade():

    op.create_table('invitation_open_tags',
    sa.Column('tag', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('tag', name=op.f('pk_invitation_open_tags'))
    )
    op.create_table('invitation_use_tags',
    sa.Column('tag', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('tag', name=op.f('pk_invitation_use_tags'))
    )
    op.create_table('pending_items',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('receipt_hash', sa.String(length=64), nullable=True),
    sa.Column('sealed', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pending_items')),
    sa.UniqueConstraint('receipt_hash', name=op.f('uq_pending_items_receipt_hash'))
    )
    with op.batch_alter_table('pending_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pending_items_day'), ['day'], unique=False)

    op.create_table('campaign_turnout',
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('rater_group', sa.String(length=20), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('answered', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_campaign_turnout_campaign_id_campaigns')),
    sa.PrimaryKeyConstraint('campaign_id', 'rater_group', 'day', name=op.f('pk_campaign_turnout'))
    )
    op.create_table('funnel_counts',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('cadre_id', sa.Integer(), nullable=False),
    sa.Column('event_type', sa.String(length=40), nullable=False),
    sa.Column('channel', sa.String(length=10), nullable=False),
    sa.Column('opened', sa.Integer(), nullable=False),
    sa.Column('rated', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['cadre_id'], ['cadres.id'], name=op.f('fk_funnel_counts_cadre_id_cadres')),
    sa.PrimaryKeyConstraint('day', 'cadre_id', 'event_type', 'channel', name=op.f('pk_funnel_counts'))
    )
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reminders_sent', sa.Integer(), nullable=False,
                                      server_default='0'))
        batch_op.add_column(sa.Column('last_reminded_at', backend.models.types.UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('campaign_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('sealed_ref', sa.Text(), nullable=True))
        batch_op.alter_column('invitation_id', existing_type=sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True)
    with op.batch_alter_table('ratings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('batch_at', backend.models.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('mac', sa.String(length=80), nullable=True))

    move_data(op.get_bind(), Sealer(current_app.config["RATING_SEAL_KEYS"]),
              ZoneInfo(current_app.config["TIMEZONE"]))

    with op.batch_alter_table('ratings', schema=None) as batch_op:
        batch_op.alter_column('batch_at', existing_type=backend.models.types.UTCDateTime(timezone=True), nullable=False)
        batch_op.alter_column('mac', existing_type=sa.String(length=80), nullable=False)
        batch_op.drop_column('submitted_hour')
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.alter_column('reminders_sent', existing_type=sa.Integer(), server_default=None)
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_deliveries_campaign_rater_id'))
        batch_op.create_index(batch_op.f('ix_deliveries_campaign_id'), ['campaign_id'], unique=False)
        batch_op.drop_constraint(batch_op.f('fk_deliveries_campaign_rater_id_campaign_raters'), type_='foreignkey')
        batch_op.create_foreign_key(batch_op.f('fk_deliveries_campaign_id_campaigns'), 'campaigns', ['campaign_id'], ['id'])
        batch_op.drop_column('campaign_rater_id')
    with op.batch_alter_table('campaign_raters', schema=None) as batch_op:
        batch_op.drop_column('last_reminded_at')
        batch_op.drop_column('reminders_sent')
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invitations_used_at'))
        batch_op.drop_column('used_at')
    op.drop_table('invitation_uses')
    with op.batch_alter_table('invitation_opens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invitation_opens_opened_at'))
    op.drop_table('invitation_opens')


TIME = backend.models.types.UTCDateTime(timezone=True)
invitations = sa.table('invitations', sa.column('id'), sa.column('token'), sa.column('kind'),
                       sa.column('cadre_id'), sa.column('event_type'),
                       sa.column('campaign_id'), sa.column('used_at', TIME))
events = sa.table('service_events', sa.column('invitation_id'), sa.column('channels'),
                  sa.column('throttled'))
opens = sa.table('invitation_opens', sa.column('invitation_id'), sa.column('opened_at', TIME))
raters = sa.table('campaign_raters', sa.column('id'), sa.column('campaign_id'),
                  sa.column('rater_group'), sa.column('invitation_id'),
                  sa.column('reminders_sent'), sa.column('last_reminded_at', TIME))
campaigns = sa.table('campaigns', sa.column('id'), sa.column('reminders_sent'),
                     sa.column('last_reminded_at', TIME))
deliveries = sa.table('deliveries', sa.column('id'), sa.column('campaign_rater_id'),
                      sa.column('campaign_id'), sa.column('invitation_id'),
                      sa.column('sealed_ref'), sa.column('message'))
ratings = sa.table('ratings', sa.column('id'), sa.column('cadre_id'), sa.column('rater_group'),
                   sa.column('score'), sa.column('tags', sa.JSON), sa.column('comment'),
                   sa.column('template_id'), sa.column('event_type'),
                   sa.column('submitted_hour', TIME), sa.column('batch_at', TIME),
                   sa.column('month'), sa.column('receipt_hash'), sa.column('status'),
                   sa.column('excluded_reason'), sa.column('mac'))


def move_data(conn, sealer, tz):
    """Turn the marks on invitations into tags and counters; MAC the ratings; seal reminders."""
    move_uses(conn, sealer, tz)
    move_openings(conn, sealer, tz)
    move_reminders(conn, sealer)
    strip_links(conn)
    mac_ratings(conn, sealer)


def primary_channel(channels):
    listed = (channels or "").split(",")
    return next((c for c in ("wechat", "sms") if c in listed), "qr")


def insert_counts(conn, table, keys, counted, measure):
    if counted:
        conn.execute(sa.table(table, *(sa.column(k) for k in (*keys, *measure))).insert(),
                     [{**dict(zip(keys, key)), **dict.fromkeys(measure, 0), measure[0]: n}
                      for key, n in sorted(counted.items())])


def move_uses(conn, sealer, tz):
    creating = sa.and_(events.c.invitation_id == invitations.c.id, events.c.throttled.is_(False))
    rows = conn.execute(
        sa.select(invitations.c.token, invitations.c.kind, invitations.c.cadre_id,
                  invitations.c.event_type, invitations.c.used_at, events.c.channels,
                  raters.c.campaign_id, raters.c.rater_group)
        .select_from(invitations.outerjoin(events, creating)
                     .outerjoin(raters, raters.c.invitation_id == invitations.c.id))
        .where(invitations.c.used_at.is_not(None))).all()
    tags = [{"tag": sealer.tags("use", r.token)[0]} for r in rows]
    for start in range(0, len(tags), BATCH):
        conn.execute(sa.table('invitation_use_tags', sa.column('tag')).insert(),
                     tags[start:start + BATCH])
    rated, answered = Counter(), Counter()
    for r in rows:
        day = r.used_at.astimezone(tz).date()
        if r.kind == "event" and r.cadre_id is not None and r.event_type:
            rated[(day, r.cadre_id, r.event_type, primary_channel(r.channels))] += 1
        elif r.campaign_id is not None:
            answered[(r.campaign_id, r.rater_group, day)] += 1
    insert_counts(conn, 'funnel_counts', ('day', 'cadre_id', 'event_type', 'channel'), rated,
                  ('rated', 'opened'))
    insert_counts(conn, 'campaign_turnout', ('campaign_id', 'rater_group', 'day'), answered,
                  ('answered',))


def move_openings(conn, sealer, tz):
    creating = sa.and_(events.c.invitation_id == invitations.c.id, events.c.throttled.is_(False))
    rows = conn.execute(
        sa.select(invitations.c.token, invitations.c.kind, invitations.c.cadre_id,
                  invitations.c.event_type, opens.c.opened_at, events.c.channels)
        .select_from(opens.join(invitations, invitations.c.id == opens.c.invitation_id)
                     .outerjoin(events, creating))).all()
    tags = [{"tag": sealer.tags("open", r.token)[0]} for r in rows]
    for start in range(0, len(tags), BATCH):
        conn.execute(sa.table('invitation_open_tags', sa.column('tag')).insert(),
                     tags[start:start + BATCH])
    opened = Counter((r.opened_at.astimezone(tz).date(), r.cadre_id, r.event_type,
                      primary_channel(r.channels))
                     for r in rows if r.kind == "event" and r.cadre_id is not None and r.event_type)
    funnel = sa.table('funnel_counts', sa.column('day'), sa.column('cadre_id'),
                      sa.column('event_type'), sa.column('channel'), sa.column('opened'),
                      sa.column('rated'))
    for (day, cadre_id, event_type, channel), n in sorted(opened.items()):
        where = sa.and_(funnel.c.day == day, funnel.c.cadre_id == cadre_id,
                        funnel.c.event_type == event_type, funnel.c.channel == channel)
        if conn.execute(funnel.update().where(where).values(opened=n)).rowcount == 0:
            conn.execute(funnel.insert().values(day=day, cadre_id=cadre_id,
                                                event_type=event_type, channel=channel,
                                                opened=n, rated=0))


def move_reminders(conn, sealer):
    for campaign_id, sent, last in conn.execute(
            sa.select(raters.c.campaign_id, sa.func.max(raters.c.reminders_sent),
                      sa.func.max(raters.c.last_reminded_at)).group_by(raters.c.campaign_id)):
        conn.execute(campaigns.update().where(campaigns.c.id == campaign_id)
                     .values(reminders_sent=sent or 0, last_reminded_at=last))
    reminded = conn.execute(
        sa.select(deliveries.c.id, raters.c.campaign_id, raters.c.invitation_id)
        .join(raters, raters.c.id == deliveries.c.campaign_rater_id)).all()
    for delivery_id, campaign_id, invitation_id in reminded:
        conn.execute(deliveries.update().where(deliveries.c.id == delivery_id).values(
            campaign_id=campaign_id, invitation_id=None,
            sealed_ref=sealer.seal({"invitation_id": invitation_id})))


def strip_links(conn):
    rows = conn.execute(sa.select(deliveries.c.id, deliveries.c.message)
                        .where(deliveries.c.message.is_not(None))).all()
    for delivery_id, message in rows:
        stripped = LINK.sub(PLACEHOLDER, message)
        if stripped != message:
            conn.execute(deliveries.update().where(deliveries.c.id == delivery_id)
                         .values(message=stripped))


def mac_ratings(conn, sealer):
    last = 0
    while True:
        rows = conn.execute(sa.select(ratings).where(ratings.c.id > last)
                            .order_by(ratings.c.id).limit(BATCH)).all()
        if not rows:
            return
        for row in rows:
            values = {**row._asdict(), "batch_at": row.submitted_hour}
            conn.execute(ratings.update().where(ratings.c.id == row.id).values(
                batch_at=row.submitted_hour, mac=sealer.mac(mac_content(values))))
        last = rows[-1].id


def downgrade():
    raise RuntimeError("0010 不可回退：回退需要重新在邀请上写下使用时间，这会让评价重新可以"
                       "追溯到评价人。请从迁移前的备份恢复。")
