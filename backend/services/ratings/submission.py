"""Rating submission: validate against the template, use the link once, buffer the rating sealed.

The link's use is a keyed tag (backend/services/sealing/uses.py) written in the same
transaction as the sealed rating (backend/storage/rating_store.py): exactly once, and
the rater gets a receipt at once. Nothing written at submission names the invitation, and
nothing about the invitation changes; the release job (backend/services/ratings/release.py)
later moves the rating into `ratings` in a shuffled batch.

Submission is the busiest public endpoint, so it reads the invitation, its event's channels
and its use with one lean query (template definitions are immutable per digest and cached in
the process) and, on PostgreSQL, writes with ONE statement.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from backend.errors import Conflict, Gone, NotFound
from backend.models import Campaign, Invitation, SurveyTemplate
from backend.scoring.merkle import accepted_hash, receipt_hash
from backend.services.campaigns.lifecycle import ballot_month
from backend.services.fraud.ranges import network_range
from backend.services.fraud.stamps import StampCheck, StampCodec
from backend.services.invitations.lookup import find_invitation
from backend.services.invitations.tokens import TokenCodec
from backend.services.privacy.personal_data import normalise_phone
from backend.services.ratings.rules import (
    Submission,
    Target,
    check_submission,
    clean_comment,
    submission_targets,
)
from backend.services.sealing.seal import Sealer
from backend.services.sealing.uses import OPEN, USE, is_used
from backend.storage import rating_store
from backend.storage.submission_rows import Presented, Write


@dataclass(frozen=True)
class ClientSignals:
    """What the request tells about the client, for abuse detection only.

    `stamp` is the signed opening stamp the page or the invitation API handed out; the time
    on page is read from it alone (a client's own clock is not trusted).
    """

    ip: str | None = None
    agent: str | None = None
    openid_hash: str | None = None
    stamp: str | None = None


@dataclass(frozen=True)
class SubmitContext:
    codec: TokenCodec
    sealer: Sealer
    tz: ZoneInfo
    now: datetime
    stamps: StampCodec | None = None  # without it, no stamp verifies: all count unstamped
    engine: Engine | None = None  # the database's, so a request need not make a session for it


# Template versions never change once stored (a version is named by its content digest).
_definitions: dict[str, dict] = {}


def to_hour(moment: datetime) -> datetime:
    """Coarsen a time to its hour."""
    return moment.replace(minute=0, second=0, microsecond=0)


def status_of(revoked_at: datetime | None, expires_at: datetime, used: bool,
              now: datetime) -> str:
    """Return open, used, revoked or expired."""
    if revoked_at is not None:
        return "revoked"
    if used:
        return "used"
    return "expired" if expires_at <= now else "open"


def invitation_status(session: Session, sealer: Sealer, invitation: Invitation,
                      now: datetime) -> str:
    """Return the status of a loaded invitation, asking the use tags whether it was used."""
    used = invitation.revoked_at is None and is_used(session, sealer, invitation.token)
    return status_of(invitation.revoked_at, invitation.expires_at, used, now)


def raise_for_status(status: str) -> None:
    """Raise the contract's error for a closed invitation."""
    if status == "used":
        raise Conflict("该链接已评价", body={"status": "used"})
    if status in ("expired", "revoked"):
        message = "该链接已过期" if status == "expired" else "该链接已撤销"
        raise Gone(message, body={"status": status})


def presented_invitation(store: rating_store.Store, sealer: Sealer, token: str) -> Presented:
    """Return what submission needs of the invitation behind a verified token, or 404."""
    presented = store.read(token, sealer.tags(USE, token))
    if presented is None:
        raise NotFound("链接无效")
    return presented


def template_definition(session: Session, template_id: int, digest: str) -> dict:
    """Return a template version's definition, from the process cache when seen before."""
    definition = _definitions.get(digest)
    if definition is None:
        definition = session.scalar(select(SurveyTemplate.definition)
                                    .where(SurveyTemplate.id == template_id))
        _definitions[digest] = definition
    return definition


def rating_month(session: Session, ctx: SubmitContext, invitation: Presented,
                 day: date) -> str:
    """Return the month a rating counts in: the submission's (its local `day`'s), a ballot's
    campaign's."""
    if invitation.kind == "ballot":
        return ballot_month(session.get(Campaign, invitation.campaign_id), ctx.tz)
    return f"{day.year:04d}-{day.month:02d}"


def signal_hashes(sealer: Sealer, signals: ClientSignals, stamp: StampCheck) -> dict:
    """Return the keyed hashes of the client kept with each rating (fraud review only).

    The keys are the ratings' own: none of these can be joined to an invitation's or a
    mini-program session's hashes. The network range (/24, /48) is keyed like the address,
    so clustering survives a stuffer rotating addresses within a range. The seconds on page
    come from a valid opening stamp only.
    """
    return {"ip_hash": sealer.signal("ip", signals.ip),
            "net_hash": sealer.signal("net", network_range(signals.ip)),
            "agent_hash": sealer.signal("agent", signals.agent),
            "openid_hash": sealer.signal("openid", signals.openid_hash),
            "seconds_on_page": stamp.seconds}


def check_stamp(ctx: SubmitContext, token: str, signals: ClientSignals) -> StampCheck:
    """Verify the submission's opening stamp (no codec: nothing verifies)."""
    if ctx.stamps is None:
        return StampCheck("missing" if not signals.stamp else "forged")
    return ctx.stamps.check(signals.stamp, token, ctx.now)


def primary_channel(channels: str | None) -> str:
    """Return an event invitation's main channel: wechat, else sms, else qr."""
    listed = (channels or "").split(",")
    return next((c for c in ("wechat", "sms") if c in listed), "qr")


def submit(session: Session, ctx: SubmitContext, presented: str, submission: Submission,
           signals: ClientSignals) -> str:
    """Validate, use the link and buffer the sealed rating; return the rater's receipt."""
    return submit_verified(session, ctx, ctx.codec.verify(presented), submission, signals)


def submit_verified(session: Session, ctx: SubmitContext, token: str | None,
                    submission: Submission, signals: ClientSignals) -> str:
    """Submit through a link whose signature the caller has verified (None: it did not)."""
    if token is None:
        raise NotFound("链接无效")  # forged: refused before any database work
    store = rating_store.opened(session, ctx.engine)
    invitation = presented_invitation(store, ctx.sealer, token)
    raise_for_status(status_of(invitation.revoked_at, invitation.expires_at, invitation.used,
                               ctx.now))
    write, receipt = prepare(session, ctx, token, invitation, submission, signals)
    if not store.store(write):
        # Someone was first (or the link closed meanwhile): say which, from a fresh read.
        again = presented_invitation(store, ctx.sealer, token)
        raise_for_status(status_of(again.revoked_at, again.expires_at, again.used, ctx.now))
        raise Conflict("该链接已评价", body={"status": "used"})
    return receipt


def prepare(session: Session, ctx: SubmitContext, token: str, invitation: Presented,
            submission: Submission,
            signals: ClientSignals) -> tuple[Write, str]:
    """Validate the submission against its template; return what to write and a receipt."""
    definition = template_definition(session, invitation.template_id, invitation.digest)
    event_target = (Target(invitation.cadre_id, invitation.cadre_code, definition["group"])
                    if invitation.kind != "ballot" else None)
    targets = submission_targets(session, invitation.id, invitation.kind, event_target)
    items = check_submission(definition, targets, submission)
    receipt, day = secrets.token_hex(16), ctx.now.astimezone(ctx.tz).date()
    comment = clean_comment(submission.comment)
    rows = [{"cadre_id": item.cadre_id, "rater_group": item.group, "score": item.score,
             "tags": list(item.tags), "comment": comment if n == 0 else None,
             "receipt_hash": receipt_hash(receipt, n)}
            for n, item in enumerate(items) if item.score is not None]
    phone = normalise_phone(submission.followup_phone) if submission.followup_phone else None
    channel = primary_channel(invitation.channels) if invitation.kind == "event" else None
    stamp = check_stamp(ctx, token, signals)
    payload = {"kind": invitation.kind, "rows": rows, "template_id": invitation.template_id,
               "event_type": invitation.event_type, "month": rating_month(session, ctx,
                                                                          invitation, day),
               "day": day.isoformat(), "channel": channel, "cadre_id": invitation.cadre_id,
               "campaign_id": invitation.campaign_id, "group": items[0].group if items else None,
               "extremes": [definition["scale"]["min"], definition["scale"]["max"]],
               "signals": signal_hashes(ctx.sealer, signals, stamp), "stamped": stamp.stamped,
               "phone": phone if rows else None}
    write = Write(
        invitation_id=invitation.id, now=ctx.now, day=day,
        use_tags=ctx.sealer.tags(USE, token), open_tags=ctx.sealer.tags(OPEN, token),
        receipt_hash=accepted_hash(receipt), sealed=ctx.sealer.seal(payload),
        open_sealed=opening(ctx.sealer, invitation, channel, day))
    return write, receipt


def opening(sealer: Sealer, invitation: Presented, channel: str | None,
            day: date) -> str | None:
    """Return an event link's opening sealed for the funnel (ballots are not in the funnel)."""
    if invitation.kind != "event":
        return None
    return sealer.seal({"kind": "open", "cadre_id": invitation.cadre_id,
                        "event_type": invitation.event_type, "channel": channel,
                        "day": day.isoformat()})


def lookup(session: Session, ctx: SubmitContext, presented: str) -> Invitation:
    """Return the invitation behind a token whatever its status (404 when unknown)."""
    return find_invitation(session, ctx.codec, presented)


def open_invitation(session: Session, ctx: SubmitContext, presented: str) -> Invitation:
    """Return the invitation behind a token if it can be rated; else 404 / 409 / 410."""
    invitation = lookup(session, ctx, presented)
    raise_for_status(invitation_status(session, ctx.sealer, invitation, ctx.now))
    return invitation

