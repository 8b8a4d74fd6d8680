"""The demo's live links: a few service-event invitations open now, and an unanswered ballot.

Links are rebuilt from the stored tokens with the configured base URL on every run, so they
point at the address actually served. An event link used or expired since is replaced by a
fresh event (reported "now" through ingestion, like any other); open ones are kept, so a
second run right after the first writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.models import Cadre, Campaign, CampaignRater, Invitation, ServiceEvent, Unit
from backend.services.demo.plan import Roles
from backend.services.invitations.deliveries import MessageSettings, Senders, relay_due
from backend.services.invitations.events import (
    EventInput,
    IngestContext,
    Result,
    event_template_keys,
)
from backend.services.invitations.ingestion import ingest_events
from backend.services.sealing import uses

LIVE_SOURCE = "demo-desk"
LIVE_COUNT = 3
LIVE_CHANNELS = ("sms", "qr", "wechat")
CHANNEL_NAMES = {"sms": "短信", "qr": "窗口二维码", "wechat": "微信小程序"}


@dataclass(frozen=True)
class LiveLink:
    """An open rating link and what it is for."""

    title: str  # the service (event type) or the campaign
    official: str  # who is rated, or the rater of a ballot
    note: str  # unit and channel, or the rater's group
    url: str


def open_condition(now):
    """Return the condition of an invitation not revoked or expired (use is asked of tags)."""
    return (Invitation.revoked_at.is_(None), Invitation.expires_at > now)


def open_live_events(session: Session, ctx) -> list:
    """Return the open, unused live events with their token, official and unit, oldest first."""
    return uses.unused(session, ctx.sealer, session.execute(
        select(ServiceEvent.event_type, ServiceEvent.channels, Invitation.token, Cadre.name,
               Cadre.position, Unit.name.label("unit"))
        .join(Invitation, Invitation.id == ServiceEvent.invitation_id)
        .join(Cadre, Cadre.id == ServiceEvent.cadre_id).join(Unit, Unit.id == Cadre.unit_id)
        .where(ServiceEvent.source == LIVE_SOURCE, *open_condition(ctx.now))
        .order_by(ServiceEvent.id)).all())


def live_event(number: int, roles: Roles, event_types: list[str], now) -> EventInput:
    """Return the n-th live event: types, channels and officials in turn."""
    channel = LIVE_CHANNELS[number % len(LIVE_CHANNELS)]
    phone = f"1390000{number + 1:04d}" if channel != "qr" else None
    openid = f"oDEMO-live-{number + 1:017d}" if channel == "wechat" else None
    return EventInput(source=LIVE_SOURCE, external_id=f"LIVE-{number + 1:04d}",
                      cadre_code=roles.live[number % len(roles.live)],
                      event_type=event_types[number % len(event_types)],
                      occurred_at=now - timedelta(minutes=5), phone=phone, openid=openid,
                      channels=(channel,))


def add_live_events(session: Session, ctx, roles: Roles, missing: int) -> None:
    """Report fresh live events now and record their messages (no gateway is used)."""
    made = session.scalar(select(func.count()).where(ServiceEvent.source == LIVE_SOURCE))
    event_types = sorted(event_template_keys(ctx.catalogue))
    items = [live_event(made + k, roles, event_types, ctx.now) for k in range(missing)]
    ingest = IngestContext(codec=ctx.codec, vault=ctx.vault, catalogue=ctx.catalogue,
                           base_url=ctx.base_url, tz=ctx.tz, now=ctx.now, sealer=ctx.sealer)
    outcomes, to_send = ingest_events(session, ingest, items)
    if bad := [o.errors for o in outcomes if o.result is not Result.CREATED]:
        raise RuntimeError(f"演示评价链接未能创建：{bad}")
    senders = Senders(codec=ctx.codec, vault=ctx.vault,
                      settings=MessageSettings(ctx.base_url, timezone=ctx.tz), sealer=ctx.sealer)
    while to_send and relay_due(session, senders, ctx.now).more:
        pass


def live_links(session: Session, ctx, roles: Roles) -> list[LiveLink]:
    """Return LIVE_COUNT open event links, reporting fresh events for those used up."""
    rows = open_live_events(session, ctx)
    if len(rows) < LIVE_COUNT:
        add_live_events(session, ctx, roles, LIVE_COUNT - len(rows))
        rows = open_live_events(session, ctx)
    names = {t: loaded.definition["event_types"][t]["name"]
             for t, key in event_template_keys(ctx.catalogue).items()
             for loaded in (ctx.catalogue.templates[key],)}
    return [LiveLink(names.get(r.event_type, r.event_type), f"{r.name}（{r.position}）",
                     f"{r.unit} · {CHANNEL_NAMES.get(r.channels, r.channels)}",
                     f"{ctx.base_url}/r/{ctx.codec.url_token(r.token)}")
            for r in rows[:LIVE_COUNT]]


def ballot_link(session: Session, ctx, campaign_code: str) -> LiveLink | None:
    """Return an unanswered ballot of the demo campaign, or None once it is over."""
    rows = uses.unused(session, ctx.sealer, session.execute(
        select(Campaign.name, CampaignRater.name.label("rater"), CampaignRater.rater_group,
               Invitation.token)
        .join(CampaignRater, CampaignRater.campaign_id == Campaign.id)
        .join(Invitation, Invitation.id == CampaignRater.invitation_id)
        .where(Campaign.code == campaign_code, Campaign.status == "open",
               *open_condition(ctx.now))
        .order_by(CampaignRater.id)).all())
    if not rows:
        return None
    row = rows[0]
    group = ctx.catalogue.vocabulary.group_name(row.rater_group)
    return LiveLink(row.name, row.rater, f"评价人（{group}）",
                    f"{ctx.base_url}/r/{ctx.codec.url_token(row.token)}")
