"""Rating submission: validate against the template, consume once, store anonymously.

Consumption is one conditional UPDATE ... RETURNING in the same transaction as the rating
insert (BEGIN IMMEDIATE on SQLite), with a primary key on invitation_uses as a backstop.
The rating row carries no invitation, event or rater reference; the time is kept to the hour.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.errors import Conflict, Gone, NotFound
from backend.models import (
    AbuseSignal,
    Campaign,
    FollowupContact,
    Invitation,
    InvitationUse,
    Rating,
)
from backend.services import counts
from backend.services.campaigns import ballot_month
from backend.services.invitations import find_invitation
from backend.services.personal_data import Vault, normalise_phone
from backend.services.rating_rules import (
    RatingInput,
    Submission,
    check_submission,
    clean_comment,
)
from backend.services.tokens import TokenCodec
from backend.services.transactions import begin_write


@dataclass(frozen=True)
class ClientSignals:
    """What the request tells about the client, for abuse detection only."""

    ip: str | None = None
    agent: str | None = None
    openid_hash: str | None = None
    seconds_on_page: int | None = None


@dataclass(frozen=True)
class SubmitContext:
    codec: TokenCodec
    vault: Vault
    tz: ZoneInfo
    now: datetime


def to_hour(moment: datetime) -> datetime:
    """Coarsen a time to its hour, so that stored times cannot order individual ratings."""
    return moment.replace(minute=0, second=0, microsecond=0)


def to_day(moment: datetime, tz: tzinfo) -> datetime:
    """Coarsen a time to the start of its local day (ballots: no order within a day)."""
    return moment.astimezone(tz).replace(hour=0, minute=0, second=0, microsecond=0)


def status_of(invitation: Invitation, now: datetime) -> str:
    """Return open, used, revoked or expired."""
    if invitation.revoked_at is not None:
        return "revoked"
    if invitation.used_at is not None:
        return "used"
    return "expired" if invitation.expires_at <= now else "open"


def raise_for_status(status: str) -> None:
    """Raise the contract's error for a closed invitation."""
    if status == "used":
        raise Conflict("该链接已评价", body={"status": "used"})
    if status in ("expired", "revoked"):
        message = "该链接已过期" if status == "expired" else "该链接已撤销"
        raise Gone(message, body={"status": status})


def open_invitation(session: Session, ctx: SubmitContext, presented: str) -> Invitation:
    """Return an open invitation or raise 404 / 409 / 410."""
    invitation = find_invitation(session, ctx.codec, presented)
    raise_for_status(status_of(invitation, ctx.now))
    return invitation


def consume(session: Session, invitation: Invitation, now: datetime,
            tz: tzinfo = UTC) -> None:
    """Mark the invitation used with one atomic statement; raise if someone was first."""
    used_at = to_day(now, tz) if invitation.kind == "ballot" else to_hour(now)
    used = session.execute(
        update(Invitation)
        .where(Invitation.id == invitation.id, Invitation.used_at.is_(None),
               Invitation.revoked_at.is_(None), Invitation.expires_at > now)
        .values(used_at=used_at, phone_hash=None, openid_hash=None)
        .returning(Invitation.id)
        .execution_options(synchronize_session=False)).first()
    if used is None:
        session.rollback()
        session.refresh(invitation)
        raise_for_status(status_of(invitation, now))
        raise Conflict("该链接已评价", body={"status": "used"})
    session.add(InvitationUse(invitation_id=invitation.id, used_on=now.date()))


def stored_time(session: Session, ctx: SubmitContext,
                invitation: Invitation) -> tuple[str, datetime]:
    """Return a rating's month and hour; a ballot gets its campaign's constants (no order)."""
    if invitation.kind == "ballot":
        campaign = session.get(Campaign, invitation.campaign_id)
        return ballot_month(campaign, ctx.tz), to_day(campaign.created_at, ctx.tz)
    return ctx.now.astimezone(ctx.tz).strftime("%Y-%m"), to_hour(ctx.now)


def store_rating(session: Session, ctx: SubmitContext, invitation: Invitation,
                 item: RatingInput, comment: str | None, receipt_hash: str) -> Rating:
    """Insert one rating and count it."""
    month, hour = stored_time(session, ctx, invitation)
    rating = Rating(cadre_id=item.cadre_id, rater_group=item.group, score=item.score,
                    tags=list(item.tags), comment=comment, template_id=invitation.template_id,
                    event_type=invitation.event_type, submitted_hour=hour,
                    month=month, receipt_hash=receipt_hash)
    session.add(rating)
    counts.add_rating(session, item.cadre_id, month, item.group, item.score, item.tags)
    return rating


def receipt_hash(receipt: str, index: int) -> str:
    """Return the stored commitment to a receipt (one per rating of a ballot)."""
    return hashlib.sha256(f"{receipt}:{index}".encode()).hexdigest()


def submit(session: Session, ctx: SubmitContext, presented: str, submission: Submission,
           signals: ClientSignals) -> str:
    """Validate, consume and store a submission; return the rater's receipt."""
    if ctx.codec.verify(presented) is None:
        raise NotFound("链接无效")  # forged: refused before any database work
    begin_write(session)
    invitation = open_invitation(session, ctx, presented)
    items = check_submission(session, invitation, submission)
    consume(session, invitation, ctx.now, ctx.tz)
    receipt = secrets.token_hex(16)
    comment = clean_comment(submission.comment)
    ratings = [store_rating(session, ctx, invitation, item, comment if n == 0 else None,
                            receipt_hash(receipt, n))
               for n, item in enumerate(items) if item.score is not None]
    session.flush()
    record_signals(session, ctx.vault, ratings, signals)
    if submission.followup_phone and ratings:
        phone = normalise_phone(submission.followup_phone)
        session.add(FollowupContact(rating_id=ratings[0].id, phone_enc=ctx.vault.encrypt(phone)))
    try:
        session.commit()
    except IntegrityError as exc:  # the backstop: a second consumption of the same invitation
        session.rollback()
        raise Conflict("该链接已评价", body={"status": "used"}) from exc
    return receipt


def record_signals(session: Session, vault: Vault, ratings: list[Rating],
                   signals: ClientSignals) -> None:
    """Store keyed hashes of the client beside each rating, for fraud review only."""
    def keyed(kind: str, value: str | None) -> str | None:
        return vault.lookup_hash(kind, value) if value else None

    for rating in ratings:
        session.add(AbuseSignal(rating_id=rating.id, ip_hash=keyed("ip", signals.ip),
                                agent_hash=keyed("agent", signals.agent),
                                openid_hash=signals.openid_hash,
                                seconds_on_page=signals.seconds_on_page))


def lookup(session: Session, ctx: SubmitContext, presented: str) -> Invitation:
    """Return the invitation behind a token whatever its status (404 when unknown)."""
    return find_invitation(session, ctx.codec, presented)

