"""Response tracking and reminders of campaigns, without ever touching what anyone answered.

A ballot counts as answered when its invitation is used (used_at is kept to the day). A group
smaller than its minimum sample (SCORING.md `min_n`) is reported as counts only, with no
day-by-day series that could tell individuals apart.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session

from backend.models import Campaign, CampaignRater, Delivery, Invitation
from backend.models.campaigns import OPEN
from backend.models.outbox import PENDING
from backend.services.transactions import begin_write

DEFAULT_MIN_N = {"recipient": 10, "representative": 3, "superior": 1, "peer": 3,
                 "subordinate": 3}
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


def min_sizes(scheme: Mapping | None) -> dict[str, int]:
    """Return min_n per group from a scheme definition, SCORING.md defaults otherwise."""
    groups = (scheme or {}).get("groups") or {}
    return DEFAULT_MIN_N | {g: int(v["min_n"]) for g, v in groups.items() if "min_n" in v}


def count_groups(session: Session, campaign_id: int, tz: tzinfo) -> dict[str, GroupProgress]:
    """Count invited and responded raters per group and response day."""
    rows = session.execute(
        select(CampaignRater.rater_group, Invitation.used_at, func.count())
        .join(Invitation, CampaignRater.invitation_id == Invitation.id)
        .where(CampaignRater.campaign_id == campaign_id)
        .group_by(CampaignRater.rater_group, Invitation.used_at))
    groups: dict[str, GroupProgress] = defaultdict(GroupProgress)
    for group, used_at, n in rows:
        progress = groups[group]
        progress.invited += n
        if used_at is not None:
            progress.responded += n
            day = used_at.astimezone(tz).date().isoformat()
            progress.by_day[day] = progress.by_day.get(day, 0) + n
    return dict(groups)


def campaign_progress(session: Session, campaign: Campaign, tz: tzinfo,
                      scheme: Mapping | None = None) -> dict:
    """Return invited, responded and rate overall and per group (small groups as counts)."""
    groups = count_groups(session, campaign.id, tz)
    sizes = min_sizes(scheme)
    invited = sum(g.invited for g in groups.values())
    responded = sum(g.responded for g in groups.values())
    return {"invited": invited, "responded": responded,
            "rate": round(responded / invited, 4) if invited else 0.0,
            "groups": {name: g.view(sizes.get(name, 1)) for name, g in sorted(groups.items())}}


def totals(session: Session, campaign_ids: list[int]) -> dict[int, tuple[int, int]]:
    """Return (invited, responded) per campaign with one query."""
    if not campaign_ids:
        return {}
    rows = session.execute(
        select(CampaignRater.campaign_id, func.count(), func.count(Invitation.used_at))
        .join(Invitation, CampaignRater.invitation_id == Invitation.id)
        .where(CampaignRater.campaign_id.in_(campaign_ids))
        .group_by(CampaignRater.campaign_id))
    return {cid: (invited, responded) for cid, invited, responded in rows}


def non_responders(session: Session, campaign: Campaign) -> list[dict]:
    """List raters who have not answered yet: code, name and group only, for reminders."""
    rows = session.execute(
        select(CampaignRater.code, CampaignRater.name, CampaignRater.rater_group)
        .join(Invitation, CampaignRater.invitation_id == Invitation.id)
        .where(CampaignRater.campaign_id == campaign.id, Invitation.used_at.is_(None))
        .order_by(CampaignRater.rater_group, CampaignRater.code))
    return [{"rater_code": code, "name": name, "group": group} for code, name, group in rows]


def due_for_reminder(now: datetime, interval: timedelta):
    """Return the condition of raters who may be reminded now."""
    pending = exists().where(Delivery.campaign_rater_id == CampaignRater.id,
                             Delivery.status == PENDING)
    last = or_(CampaignRater.last_reminded_at <= now - interval,
               and_(CampaignRater.last_reminded_at.is_(None),
                    Campaign.created_at <= now - interval))
    return and_(Campaign.status == OPEN, Campaign.closes_at > now,
                Invitation.used_at.is_(None), Invitation.revoked_at.is_(None),
                Invitation.expires_at > now, CampaignRater.phone_enc.is_not(None),
                CampaignRater.reminders_sent < Campaign.max_reminders, last, ~pending)


def send_reminders(session: Session, now: datetime, interval: timedelta = REMINDER_INTERVAL,
                   limit: int = 5000) -> int:
    """Queue an SMS to each non-responder who is due a reminder; commit; return how many."""
    begin_write(session)
    raters = list(session.scalars(
        select(CampaignRater).join(Campaign, CampaignRater.campaign_id == Campaign.id)
        .join(Invitation, CampaignRater.invitation_id == Invitation.id)
        .where(due_for_reminder(now, interval)).order_by(CampaignRater.id).limit(limit)
        .with_for_update(of=CampaignRater, skip_locked=True)))
    for rater in raters:
        session.add(Delivery(invitation_id=rater.invitation_id, campaign_rater_id=rater.id,
                             channel="sms", status=PENDING, attempts=0,
                             contact_enc=rater.phone_enc, next_attempt_at=now,
                             due_by=now + REMINDER_DUE, created_at=now))
        rater.reminders_sent += 1
        rater.last_reminded_at = now
    session.commit()
    return len(raters)
