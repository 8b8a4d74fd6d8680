"""Rating submission: validate against the template, consume once, store anonymously.

Consumption is one conditional UPDATE ... RETURNING in the same transaction as the rating
insert (BEGIN IMMEDIATE on SQLite), with a primary key on invitation_uses as a backstop.
The rating row carries no invitation, event or rater reference; the time is kept to the hour.

Submission is the busiest public endpoint, so it reads the invitation with one lean query
(template definitions are immutable per digest and cached in the process) and, on
PostgreSQL, writes everything in ONE statement (backend/services/rating_store.py): the
consuming UPDATE and every insert hang off its RETURNING, so a lost race writes nothing.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from backend.errors import Conflict, Gone, NotFound
from backend.models import Cadre, Campaign, Invitation, SurveyTemplate
from backend.services import rating_store
from backend.services.campaigns import ballot_month
from backend.services.invitations import find_invitation
from backend.services.personal_data import Vault, normalise_phone
from backend.services.rating_rules import (
    Submission,
    Target,
    check_submission,
    clean_comment,
    submission_targets,
)
from backend.services.tokens import TokenCodec


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


class Presented(NamedTuple):
    """What submission needs of an invitation, read in one query."""

    id: int
    kind: str
    template_id: int
    digest: str
    cadre_id: int | None
    cadre_code: str | None
    event_type: str | None
    campaign_id: int | None
    used_at: datetime | None
    revoked_at: datetime | None
    expires_at: datetime


PRESENTED = (select(Invitation.id, Invitation.kind, Invitation.template_id,
                    SurveyTemplate.digest, Invitation.cadre_id, Cadre.code,
                    Invitation.event_type, Invitation.campaign_id, Invitation.used_at,
                    Invitation.revoked_at, Invitation.expires_at)
             .join(SurveyTemplate, SurveyTemplate.id == Invitation.template_id)
             .outerjoin(Cadre, Cadre.id == Invitation.cadre_id)
             .where(Invitation.token == bindparam("token")))  # one statement object: no
# per-request expression building, nor matching of result columns to the cached compilation

# Template versions never change once stored (a version is named by its content digest).
_definitions: dict[str, dict] = {}


def to_hour(moment: datetime) -> datetime:
    """Coarsen a time to its hour, so that stored times cannot order individual ratings."""
    return moment.replace(minute=0, second=0, microsecond=0)


def to_day(moment: datetime, tz: tzinfo) -> datetime:
    """Coarsen a time to the start of its local day (ballots: no order within a day)."""
    return moment.astimezone(tz).replace(hour=0, minute=0, second=0, microsecond=0)


def status_of(invitation: Invitation | Presented, now: datetime) -> str:
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


def presented_invitation(store: rating_store.Store,
                         token: str) -> Presented:
    """Return what submission needs of the invitation behind a verified token, or 404."""
    row = store.first(PRESENTED, {"token": token})
    if row is None:
        raise NotFound("链接无效")
    return Presented(*row)


def template_definition(session: Session, template_id: int, digest: str) -> dict:
    """Return a template version's definition, from the process cache when seen before."""
    definition = _definitions.get(digest)
    if definition is None:
        definition = session.scalar(select(SurveyTemplate.definition)
                                    .where(SurveyTemplate.id == template_id))
        _definitions[digest] = definition
    return definition


def stored_time(session: Session, ctx: SubmitContext,
                invitation: Presented) -> tuple[str, datetime]:
    """Return a rating's month and hour; a ballot gets its campaign's constants (no order)."""
    if invitation.kind == "ballot":
        campaign = session.get(Campaign, invitation.campaign_id)
        return ballot_month(campaign, ctx.tz), to_day(campaign.created_at, ctx.tz)
    return ctx.now.astimezone(ctx.tz).strftime("%Y-%m"), to_hour(ctx.now)


def receipt_hash(receipt: str, index: int) -> str:
    """Return the stored commitment to a receipt (one per rating of a ballot)."""
    return hashlib.sha256(f"{receipt}:{index}".encode()).hexdigest()


def signal_hashes(vault: Vault, signals: ClientSignals) -> dict:
    """Return the keyed hashes of the client stored beside each rating (fraud review only)."""
    def keyed(kind: str, value: str | None) -> str | None:
        return vault.lookup_hash(kind, value) if value else None

    return {"ip_hash": keyed("ip", signals.ip), "agent_hash": keyed("agent", signals.agent),
            "openid_hash": signals.openid_hash, "seconds_on_page": signals.seconds_on_page}


def submit(session: Session, ctx: SubmitContext, presented: str, submission: Submission,
           signals: ClientSignals) -> str:
    """Validate, consume and store a submission; return the rater's receipt."""
    token = ctx.codec.verify(presented)
    if token is None:
        raise NotFound("链接无效")  # forged: refused before any database work
    with rating_store.opened(session) as store:
        invitation = presented_invitation(store, token)
        raise_for_status(status_of(invitation, ctx.now))
        write, receipt = prepare(session, ctx, invitation, submission, signals)
        if not store.store(write):
            # Someone was first (or the link closed meanwhile): say which, from a fresh read.
            raise_for_status(status_of(presented_invitation(store, token), ctx.now))
            raise Conflict("该链接已评价", body={"status": "used"})
    return receipt


def prepare(session: Session, ctx: SubmitContext, invitation: Presented,
            submission: Submission, signals: ClientSignals) -> tuple[rating_store.Write, str]:
    """Validate the submission against its template; return the rows to write and a receipt."""
    definition = template_definition(session, invitation.template_id, invitation.digest)
    event_target = (Target(invitation.cadre_id, invitation.cadre_code, definition["group"])
                    if invitation.kind != "ballot" else None)
    targets = submission_targets(session, invitation.id, invitation.kind, event_target)
    items = check_submission(definition, targets, submission)
    month, hour = stored_time(session, ctx, invitation)
    receipt = secrets.token_hex(16)
    comment = clean_comment(submission.comment)
    rows = [{"cadre_id": item.cadre_id, "rater_group": item.group, "score": item.score,
             "tags": list(item.tags), "comment": comment if n == 0 else None,
             "receipt_hash": receipt_hash(receipt, n)}
            for n, item in enumerate(items) if item.score is not None]
    phone = normalise_phone(submission.followup_phone) if submission.followup_phone else None
    used_at = to_day(ctx.now, ctx.tz) if invitation.kind == "ballot" else to_hour(ctx.now)
    write = rating_store.Write(
        invitation_id=invitation.id, used_at=used_at, used_on=ctx.now.date(), now=ctx.now,
        month=month, hour=hour, template_id=invitation.template_id,
        event_type=invitation.event_type, rows=rows, signals=signal_hashes(ctx.vault, signals),
        phone_enc=ctx.vault.encrypt(phone) if phone and rows else None)
    return write, receipt


def lookup(session: Session, ctx: SubmitContext, presented: str) -> Invitation:
    """Return the invitation behind a token whatever its status (404 when unknown)."""
    return find_invitation(session, ctx.codec, presented)

