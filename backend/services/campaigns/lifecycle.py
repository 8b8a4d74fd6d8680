"""Multi-rater campaigns (民主测评): create with one ballot per rater, extend, close, cancel.

A ballot is one single-use invitation (kind "ballot") covering all of its rater's targets,
each rated under the rater's group. Validation reports issues per assignment (index, field,
reason) so that the API and the roster import name the item or row at fault. A periodic job
closes campaigns past their closing time through the same steps as a manual close.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.errors import Conflict, InvalidInput, NotFound
from backend.models import BallotTarget, Campaign, CampaignRater, Delivery, Invitation
from backend.models.campaigns import CANCELLED, CLOSED, OPEN
from backend.scoring.periods import month_label, parse_period
from backend.services.campaigns.rules import (
    CampaignInput,
    Planned,
    allowed_groups,
    assignment_errors,
    ballot_template,
    campaign_errors,
    check_assignments,
    load_cadres,
)
from backend.services.directory.teams import store_new_teams
from backend.services.invitations.tokens import TokenCodec, new_token
from backend.services.privacy.personal_data import Vault, normalise_phone
from backend.services.sealing import uses
from backend.services.sealing.seal import Sealer
from backend.services.templates.catalogue import Catalogue
from backend.storage.bulk import insert_rows
from backend.storage.transactions import begin_write, row_or_missing

STATUS_NAMES = {OPEN: "进行中", CLOSED: "已关闭", CANCELLED: "已取消"}


@dataclass(frozen=True)
class CampaignContext:
    """What campaign services need besides the session: injected, never global."""

    codec: TokenCodec
    vault: Vault
    catalogue: Catalogue
    base_url: str
    tz: ZoneInfo
    now: datetime


@dataclass(frozen=True)
class BallotLink:
    rater_code: str
    token: str
    url: str


def link_for(ctx: CampaignContext, rater_code: str, token: str) -> BallotLink:
    """Return a rater's ballot link: the signed token and <base>/r/<signed token>."""
    signed = ctx.codec.url_token(token)
    return BallotLink(rater_code, signed, f"{ctx.base_url}/r/{signed}")


def write_ballots(session: Session, ctx: CampaignContext, campaign: Campaign,
                  planned: Sequence[Planned]) -> list[BallotLink]:
    """Insert each rater's invitation, roster row and ballot targets; return their links.

    Leadership teams named for the first time are stored first.
    """
    store_new_teams(session, (cadre for p in planned for cadre in p.cadres))
    tokens = [new_token() for _ in planned]
    invitations = [{"token": t, "kind": "ballot", "template_id": campaign.template_id,
                    "campaign_id": campaign.id, "created_at": ctx.now,
                    "expires_at": campaign.closes_at} for t in tokens]
    ids = dict(insert_rows(session, Invitation.__table__, invitations, returning=("token", "id")))
    raters, targets = [], []
    for token, p in zip(tokens, planned, strict=True):
        phone = normalise_phone(p.assignment.rater.phone) if p.assignment.rater.phone else None
        raters.append({"campaign_id": campaign.id, "code": p.assignment.rater.code,
                       "name": p.assignment.rater.name.strip(), "rater_group": p.assignment.group,
                       "phone_enc": ctx.vault.encrypt(phone) if phone else None,
                       "invitation_id": ids[token]})
        targets.extend({"invitation_id": ids[token], "cadre_id": cadre.id,
                        "rater_group": p.assignment.group, "position": n}
                       for n, cadre in enumerate(p.cadres))
    insert_rows(session, CampaignRater.__table__, raters)
    insert_rows(session, BallotTarget.__table__, targets)
    return [link_for(ctx, p.assignment.rater.code, t)
            for t, p in zip(tokens, planned, strict=True)]


def create_campaign(session: Session, ctx: CampaignContext,
                    data: CampaignInput) -> tuple[Campaign, list[BallotLink]]:
    """Validate and create a campaign with one ballot per rater; commit."""
    begin_write(session)
    if session.scalar(select(Campaign.id).where(Campaign.code == data.code)) is not None:
        raise Conflict(f"测评编码已存在：{data.code}", errors={"code": "测评编码已存在"})
    template = ballot_template(session, ctx.catalogue, data.template)
    if errors := campaign_errors(ctx.catalogue, ctx.now, data, template):
        raise InvalidInput(errors=errors)
    groups = allowed_groups(template.definition["groups"], ctx.catalogue.vocabulary)
    planned, issues = check_assignments(data.assignments, groups,
                                        load_cadres(session, data.assignments))
    if issues:
        raise InvalidInput("测评名单有误", errors=assignment_errors(issues))
    campaign = Campaign(code=data.code, name=data.name.strip(), template_id=template.id,
                        period=data.period, status=OPEN, closes_at=data.closes_at,
                        max_reminders=data.max_reminders, created_at=ctx.now)
    session.add(campaign)
    try:
        session.flush()
        links = write_ballots(session, ctx, campaign, list(planned.values()))
        session.commit()
    except IntegrityError as exc:  # a concurrent request took the code first
        session.rollback()
        raise Conflict(f"测评编码已存在：{data.code}", errors={"code": "测评编码已存在"}) from exc
    return campaign, links


def find_campaign(session: Session, code: str) -> Campaign:
    """Return the campaign with this code or raise NotFound."""
    campaign = session.scalar(select(Campaign).where(Campaign.code == code))
    if campaign is None:
        raise NotFound(f"测评不存在：{code}")
    return campaign


def campaign_by_id(session: Session, campaign_id: int) -> Campaign:
    """Return the campaign with this id or raise NotFound."""
    return row_or_missing(session, Campaign, campaign_id, "测评不存在")


def ballot_templates(catalogue: Catalogue) -> dict[str, str]:
    """Return the ballot templates a campaign may use: key and title."""
    return {key: loaded.definition.get("texts", {}).get("title", key)
            for key, loaded in sorted(catalogue.templates.items())
            if loaded.definition["kind"] == "ballot"}


def list_campaigns(session: Session, status: str | None = None) -> list[Campaign]:
    """Return campaigns, newest first, optionally of one status."""
    query = select(Campaign).order_by(Campaign.created_at.desc(), Campaign.id.desc())
    if status:
        query = query.where(Campaign.status == status)
    return list(session.scalars(query))


def require_open(campaign: Campaign, action: str) -> None:
    """Refuse to change a closed or cancelled campaign."""
    if campaign.status != OPEN:
        raise Conflict(f"测评{STATUS_NAMES[campaign.status]}，不能{action}")


def unrevoked_ballots(campaign: Campaign):
    """Return a query of (id, token) of a campaign's unrevoked ballots, used or not."""
    return select(Invitation.id, Invitation.token).where(Invitation.campaign_id == campaign.id,
                                                         Invitation.revoked_at.is_(None))


def revoke_ballots(session: Session, sealer: Sealer, campaign: Campaign, now: datetime,
                   reason: str) -> int:
    """Revoke every ballot and cancel the campaign's pending messages; return how many were
    unused.

    Used ballots are revoked too: a mark on the unused ones only would tell the database
    which raters answered.
    """
    rows = session.execute(unrevoked_ballots(campaign)).all()
    unused = len(uses.unused(session, sealer, rows))
    ids = [row.id for row in rows]
    session.execute(update(Delivery).where(Delivery.campaign_id == campaign.id,
                                           Delivery.status == "pending")
                    .values(status="cancelled", last_error=reason))
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        session.execute(update(Delivery).where(Delivery.invitation_id.in_(chunk),
                                               Delivery.status == "pending")
                        .values(status="cancelled", last_error=reason))
        session.execute(update(Invitation).where(Invitation.id.in_(chunk))
                        .values(revoked_at=now))
    return unused


def extend_campaign(session: Session, code: str, closes_at: datetime,
                    now: datetime) -> Campaign:
    """Move the closing time later; every ballot expires at the new time; commit."""
    begin_write(session)
    campaign = find_campaign(session, code)
    require_open(campaign, "延期")
    if closes_at <= campaign.closes_at or closes_at <= now:
        raise InvalidInput(errors={"closes_at": "新的截止时间必须晚于原截止时间和当前时间"})
    campaign.closes_at = closes_at
    session.execute(update(Invitation)
                    .where(Invitation.campaign_id == campaign.id, Invitation.revoked_at.is_(None))
                    .values(expires_at=closes_at).execution_options(synchronize_session=False))
    session.commit()
    return campaign


def close_open(session: Session, sealer: Sealer, campaign: Campaign, now: datetime) -> int:
    """Mark an open campaign closed now and revoke its ballots; return how many were unused."""
    campaign.status, campaign.closed_at = CLOSED, now
    return revoke_ballots(session, sealer, campaign, now, "测评已关闭")


def close_campaign(session: Session, sealer: Sealer, code: str,
                   now: datetime) -> tuple[Campaign, int]:
    """Close a campaign: ballots are revoked; return it and how many were unused; commit."""
    begin_write(session)
    campaign = find_campaign(session, code)
    require_open(campaign, "关闭")
    revoked = close_open(session, sealer, campaign, now)
    session.commit()
    return campaign, revoked


def overdue_campaigns(session: Session, now: datetime) -> list[tuple[int, str]]:
    """Return (id, code) of open campaigns whose closing time has passed, earliest first."""
    rows = session.execute(
        select(Campaign.id, Campaign.code).where(Campaign.status == OPEN, Campaign.closes_at <= now)
        .order_by(Campaign.closes_at, Campaign.id))
    return [(campaign_id, code) for campaign_id, code in rows]


def close_if_overdue(session: Session, sealer: Sealer, campaign_id: int,
                     now: datetime) -> int | None:
    """Close one campaign as a manual close would, if still open and due; commit.

    The row is re-read under lock, so a campaign extended or closed since it was listed is
    left alone. Return how many ballots were revoked, or None when nothing was done.
    """
    begin_write(session)
    campaign = session.scalar(select(Campaign).where(Campaign.id == campaign_id)
                              .with_for_update().execution_options(populate_existing=True))
    if campaign is None or campaign.status != OPEN or campaign.closes_at > now:
        session.commit()
        return None
    revoked = close_open(session, sealer, campaign, now)
    session.commit()
    return revoked


def close_overdue(session: Session, sealer: Sealer, now: datetime) -> dict[str, int]:
    """Close every open campaign past its closing time; return ballots revoked per code."""
    closed = {}
    for campaign_id, code in overdue_campaigns(session, now):
        revoked = close_if_overdue(session, sealer, campaign_id, now)
        if revoked is not None:
            closed[code] = revoked
    return closed


def cancel_campaign(session: Session, sealer: Sealer, code: str,
                    now: datetime) -> tuple[Campaign, int]:
    """Cancel a campaign nobody has answered yet (ballots revoked); commit."""
    begin_write(session)
    campaign = find_campaign(session, code)
    require_open(campaign, "取消")
    rows = session.execute(unrevoked_ballots(campaign)).all()
    used = len(rows) - len(uses.unused(session, sealer, rows))
    if used:
        raise Conflict(f"已有 {used} 张测评票提交，不能取消（其评价已计入）；请改为关闭测评")
    campaign.status, campaign.closed_at = CANCELLED, now
    revoked = revoke_ballots(session, sealer, campaign, now, "测评已取消")
    session.commit()
    return campaign, revoked


def ballot_month(campaign: Campaign, tz: tzinfo) -> str:
    """Return the month ballots count in: the closing month, clamped into the period."""
    months = parse_period(campaign.period).months
    closing = month_label(campaign.closes_at, tz)
    return min(max(closing, months[0]), months[-1])
