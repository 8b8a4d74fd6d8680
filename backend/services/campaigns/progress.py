"""Response tracking and reminders of campaigns, without ever touching what anyone answered.

Turnout is read from aggregate counters (`campaign_turnout`, per group and local day) that the
release job adds to a batch at a time: the database marks no ballot as answered. A group
smaller than its minimum sample (SCORING.md `min_n`) is reported as counts only, with no
day-by-day series that could tell individuals apart. Who has not answered yet is computed
from the ballots' use tags with keys outside the database, for reminders and the organiser's
list; a reminder round goes to every rater still unanswered and records only the round.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session, joinedload

from backend.errors import Conflict
from backend.models import Campaign, CampaignRater, CampaignTurnout, Delivery
from backend.models.campaigns import OPEN
from backend.models.outbox import PENDING
from backend.scoring.vocabulary import Vocabulary
from backend.services.privacy.personal_data import Vault
from backend.services.sealing import uses
from backend.services.sealing.seal import Sealer
from backend.services.templates.catalogue import shipped_vocabulary
from backend.storage.bulk import insert_rows
from backend.storage.transactions import begin_write

REMINDER_INTERVAL = timedelta(hours=24)
REMINDER_DUE = timedelta(hours=24)


@dataclass
class GroupProgress:
    """Invited and responded raters of one group, with responses per day."""

    invited: int = 0
    responded: int = 0
    by_day: dict[str, int] = field(default_factory=dict)

    def view(self, min_n: int) -> dict:
        """Render the group; below its minimum sample, as counts only."""
        body = {"invited": self.invited, "responded": self.responded}
        if self.invited < min_n:
            return {"status": "insufficient", **body, "min_n": min_n}
        running, series = 0, []
        for day in sorted(self.by_day):
            running += self.by_day[day]
            series.append({"date": day, "responded": self.by_day[day], "cumulative": running})
        return {"status": "ok" if self.responded >= min_n else "collecting", **body,
                "rate": round(self.responded / self.invited, 4), "by_day": series}


def min_sizes(scheme: Mapping | None, vocabulary: Vocabulary | None = None) -> dict[str, int]:
    """Return min_n per group from a scheme definition, the configured groups' otherwise."""
    groups = (scheme or {}).get("groups") or {}
    configured = (vocabulary or shipped_vocabulary()).min_sizes()
    return configured | {g: int(v["min_n"]) for g, v in groups.items() if "min_n" in v}


def count_groups(session: Session, campaign_id: int) -> dict[str, GroupProgress]:
    """Count invited raters per group and released answers per group and day."""
    groups: dict[str, GroupProgress] = defaultdict(GroupProgress)
    for group, n in session.execute(
            select(CampaignRater.rater_group, func.count())
            .where(CampaignRater.campaign_id == campaign_id)
            .group_by(CampaignRater.rater_group)):
        groups[group].invited += n
    for group, day, n in session.execute(
            select(CampaignTurnout.rater_group, CampaignTurnout.day, CampaignTurnout.answered)
            .where(CampaignTurnout.campaign_id == campaign_id)):
        progress = groups[group]
        progress.responded += n
        progress.by_day[day.isoformat()] = progress.by_day.get(day.isoformat(), 0) + n
    return dict(groups)


def campaign_progress(session: Session, campaign: Campaign, tz: tzinfo,
                      scheme: Mapping | None = None,
                      vocabulary: Vocabulary | None = None) -> dict:
    """Return invited, responded and rate overall and per group (small groups as counts)."""
    groups = count_groups(session, campaign.id)
    sizes = min_sizes(scheme, vocabulary)
    invited = sum(g.invited for g in groups.values())
    responded = sum(g.responded for g in groups.values())
    return {"invited": invited, "responded": responded,
            "rate": round(responded / invited, 4) if invited else 0.0,
            "groups": {name: g.view(sizes.get(name, 1)) for name, g in sorted(groups.items())}}


def totals(session: Session, campaign_ids: list[int]) -> dict[int, tuple[int, int]]:
    """Return (invited, responded) per campaign, responses as released so far."""
    if not campaign_ids:
        return {}
    invited = dict(session.execute(
        select(CampaignRater.campaign_id, func.count())
        .where(CampaignRater.campaign_id.in_(campaign_ids)).group_by(CampaignRater.campaign_id)
    ).all())
    answered = dict(session.execute(
        select(CampaignTurnout.campaign_id, func.sum(CampaignTurnout.answered))
        .where(CampaignTurnout.campaign_id.in_(campaign_ids))
        .group_by(CampaignTurnout.campaign_id)).all())
    return {cid: (invited.get(cid, 0), int(answered.get(cid) or 0)) for cid in campaign_ids
            if cid in invited}


def unanswered(session: Session, sealer: Sealer, campaign: Campaign) -> list[CampaignRater]:
    """Return the raters whose ballot is unused (asked of the use tags), by group and code."""
    raters = list(session.scalars(
        select(CampaignRater).where(CampaignRater.campaign_id == campaign.id)
        .options(joinedload(CampaignRater.invitation))
        .order_by(CampaignRater.rater_group, CampaignRater.code)))
    return uses.unused(session, sealer, raters, token=lambda r: r.invitation.token)


def non_responders(session: Session, sealer: Sealer, campaign: Campaign) -> list[dict]:
    """List raters who have not answered yet: code, name and group only, for reminders."""
    return [{"rater_code": r.code, "name": r.name, "group": r.rater_group}
            for r in unanswered(session, sealer, campaign)]


def due_campaigns(session: Session, now: datetime, interval: timedelta) -> list[Campaign]:
    """Return open campaigns due a reminder round (none pending from the last round)."""
    pending = exists().where(Delivery.campaign_id == Campaign.id, Delivery.status == PENDING)
    last = or_(Campaign.last_reminded_at <= now - interval,
               and_(Campaign.last_reminded_at.is_(None), Campaign.created_at <= now - interval))
    return list(session.scalars(
        select(Campaign).where(Campaign.status == OPEN, Campaign.closes_at > now,
                               Campaign.reminders_sent < Campaign.max_reminders, last, ~pending)
        .order_by(Campaign.id).with_for_update(skip_locked=True)))


def send_reminders(session: Session, sealer: Sealer, vault: Vault, now: datetime,
                   interval: timedelta = REMINDER_INTERVAL) -> int:
    """Queue a reminder round for each due campaign; commit; return how many messages.

    A round reaches every rater with a phone whose ballot is open and unused. Its messages
    name neither rater nor ballot: the ballot is sealed, the phone encrypted anew, and the
    rows are written in shuffled order.
    """
    begin_write(session)
    messages = []
    for campaign in due_campaigns(session, now, interval):
        messages.extend(reminder_round(session, sealer, vault, campaign, now))
    random.SystemRandom().shuffle(messages)
    insert_rows(session, Delivery.__table__, messages)
    session.commit()
    return len(messages)


def reminder_round(session: Session, sealer: Sealer, vault: Vault, campaign: Campaign,
                   now: datetime) -> list[dict]:
    """Count a reminder round on the campaign; return its messages (rows not yet written)."""
    messages = []
    for rater in unanswered(session, sealer, campaign):
        invitation = rater.invitation
        phone = vault.decrypt(rater.phone_enc) if rater.phone_enc else None
        if phone is None or invitation.revoked_at is not None or invitation.expires_at <= now:
            continue
        messages.append({"campaign_id": campaign.id, "channel": "sms", "status": PENDING,
                         "attempts": 0, "contact_enc": vault.encrypt(phone),
                         "sealed_ref": sealer.seal({"invitation_id": invitation.id}),
                         "next_attempt_at": now, "due_by": now + REMINDER_DUE,
                         "created_at": now})
    campaign.reminders_sent += 1
    campaign.last_reminded_at = now
    return messages


def remind_now(session: Session, sealer: Sealer, vault: Vault, campaign: Campaign,
               now: datetime) -> int:
    """Send one reminder round of an open campaign at once (the organiser's button); commit.

    Refused when the campaign is not open, has used up its rounds, or the last round's
    messages are still waiting; return how many messages were queued.
    """
    begin_write(session)
    campaign = session.get(Campaign, campaign.id, populate_existing=True,
                           with_for_update=True)
    if campaign.status != OPEN or campaign.closes_at <= now:
        raise Conflict("测评未在进行中，不能发送提醒")
    if campaign.reminders_sent >= campaign.max_reminders:
        raise Conflict(f"提醒次数已用完（最多 {campaign.max_reminders} 轮）")
    if session.scalar(select(exists().where(Delivery.campaign_id == campaign.id,
                                            Delivery.status == PENDING))):
        raise Conflict("上一轮提醒仍在发送中，请稍后再试")
    messages = reminder_round(session, sealer, vault, campaign, now)
    random.SystemRandom().shuffle(messages)
    insert_rows(session, Delivery.__table__, messages)
    session.commit()
    return len(messages)
