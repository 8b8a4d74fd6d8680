"""Write a batch of service events in one transaction with a fixed number of queries."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.models import Cadre, Delivery, Invitation, ServiceEvent
from backend.services.invitations.events import (
    EventCadre,
    EventInput,
    IngestContext,
    Outcome,
    Prepared,
    Result,
    check_event,
    content_hash,
    link_body,
    template_for,
)
from backend.services.invitations.tokens import new_token
from backend.services.privacy.personal_data import normalise_phone
from backend.services.sealing import uses
from backend.storage.bulk import custom_plans, insert_rows, one_of


def ingest_events(session: Session, ctx: IngestContext,
                  items: Sequence[EventInput]) -> tuple[list[Outcome], bool]:
    """Ingest events and commit; return one outcome per item and whether anything is to send."""
    try:
        outcomes, to_send = write_batch(session, ctx, items)
        session.commit()
        return outcomes, to_send
    except IntegrityError:
        session.rollback()  # a concurrent writer took a (source, external_id): go one by one
    outcomes, to_send = [], False
    for item in items:
        (outcome,), sends = ingest_single(session, ctx, item)
        outcomes.append(outcome)
        to_send = to_send or sends
    return outcomes, to_send


def ingest_single(session: Session, ctx: IngestContext,
                  item: EventInput) -> tuple[list[Outcome], bool]:
    """Ingest one event, retrying once if a concurrent writer inserted it first."""
    for _attempt in range(2):
        try:
            result = write_batch(session, ctx, [item])
            session.commit()
            return result
        except IntegrityError:
            session.rollback()
    raise RuntimeError("event could not be written after a retry")


def load_cadres(session: Session, items: Sequence[EventInput]) -> dict[str, EventCadre]:
    """Load what ingestion needs of the batch's cadres, with one query."""
    codes = {i.cadre_code for i in items}
    query = (select(Cadre.id, Cadre.code, Cadre.kind, Cadre.active)
             .where(one_of(session, Cadre.code, codes)))
    return {row.code: EventCadre(*row) for row in session.execute(query)}


def existing_query(session: Session, items: Sequence[EventInput]):
    """The lookup of a batch's stored events by both columns of their (source, external_id)
    key, so that it is a scan of that unique index however large the table."""
    sources, ids = {i.source for i in items}, {i.external_id for i in items}
    return (select(ServiceEvent.source, ServiceEvent.external_id, ServiceEvent.id,
                   ServiceEvent.content_hash, ServiceEvent.throttled, Invitation.token,
                   Invitation.expires_at)
            .join(Invitation, ServiceEvent.invitation_id == Invitation.id)
            .where(one_of(session, ServiceEvent.source, sources),
                   one_of(session, ServiceEvent.external_id, ids)))


def load_existing(session: Session, items: Sequence[EventInput]) -> dict[tuple, tuple]:
    """Load already-stored events of the batch: (source, external_id) -> stored facts."""
    rows = session.execute(existing_query(session, items))
    return {(r.source, r.external_id): tuple(r)[2:] for r in rows}


def load_open_invitations(session: Session, ctx: IngestContext,
                          prepared: Sequence[Prepared]) -> dict[tuple, dict]:
    """Load open invitations that could throttle the batch: (cadre, kind, hash) -> invitation."""
    phones = {p.phone_hash for p in prepared if p.phone_hash}
    openids = {p.openid_hash for p in prepared if p.openid_hash}
    if not phones and not openids:
        return {}
    window = max(p.template.definition["invitation"]["throttle_hours"] for p in prepared)
    contacts = [one_of(session, column, values) for column, values in (
        (Invitation.phone_hash, phones), (Invitation.openid_hash, openids)) if values]
    query = (select(Invitation.id, Invitation.cadre_id, Invitation.phone_hash,
                    Invitation.openid_hash, Invitation.token, Invitation.expires_at,
                    Invitation.created_at)
             .where(one_of(session, Invitation.cadre_id, {p.cadre.id for p in prepared}),
                    or_(*contacts),
                    Invitation.revoked_at.is_(None),
                    Invitation.expires_at > ctx.now,
                    Invitation.created_at >= ctx.now - timedelta(hours=window))
             .order_by(Invitation.created_at))
    found: dict[tuple, dict] = {}
    for row in uses.unused(session, ctx.sealer, session.execute(query).all()):
        invitation = row._asdict()
        for kind in ("phone_hash", "openid_hash"):
            if invitation[kind]:
                found[(row.cadre_id, kind, invitation[kind])] = invitation
    return found


def prepare(session: Session, ctx: IngestContext, index: int, item: EventInput,
            cadres: dict[str, EventCadre]) -> Prepared | Outcome:
    """Validate one event and derive its hashes; return an error outcome when invalid."""
    cadre = cadres.get(item.cadre_code)
    template = template_for(session, ctx, item.event_type)
    if errors := check_event(ctx, item, cadre, template):
        return Outcome(Result.INVALID, errors=errors, message="请求内容无效")
    phone = normalise_phone(item.phone) if item.phone else None
    return Prepared(
        index=index, data=item, cadre=cadre, template=template,
        content_hash=content_hash(ctx.vault, item, phone),
        phone_hash=ctx.vault.lookup_hash("phone", phone) if phone else None,
        openid_hash=ctx.vault.lookup_hash("openid", item.openid) if item.openid else None)


def replay(ctx: IngestContext, stored: tuple, prepared: Prepared) -> Outcome:
    """Answer a repeated (source, external_id): same content 200, different content 409."""
    event_id, stored_hash, throttled, token, expires_at = stored
    if stored_hash != prepared.content_hash:
        return Outcome(Result.CONFLICT, message="该事件（source, external_id）已存在且内容不同")
    return Outcome(Result.REPLAYED, body=link_body(ctx, event_id, throttled, token, expires_at))


def find_throttle(ctx: IngestContext, p: Prepared, open_invitations: dict) -> dict | None:
    """Return the recipient's open invitation for this official within the window."""
    hours = p.template.definition["invitation"]["throttle_hours"]
    for kind, value in (("phone_hash", p.phone_hash), ("openid_hash", p.openid_hash)):
        invitation = open_invitations.get((p.cadre.id, kind, value)) if value else None
        if invitation and invitation["created_at"] >= ctx.now - timedelta(hours=hours):
            return invitation
    return None


def new_invitation(ctx: IngestContext, p: Prepared) -> dict:
    """Return the row of a fresh invitation for a prepared event."""
    days = p.template.definition["invitation"]["expires_days"]
    return {"token": new_token(), "kind": "event", "template_id": p.template.id,
            "cadre_id": p.cadre.id, "event_type": p.data.event_type,
            "phone_hash": p.phone_hash, "openid_hash": p.openid_hash,
            "created_at": ctx.now, "expires_at": ctx.now + timedelta(days=days)}


def plan(session: Session, ctx: IngestContext, items: Sequence[EventInput]):
    """Decide each item's fate: an outcome now, or a prepared event to write.

    The batch's lookups are planned for its keys (`custom_plans`), never from a plan kept
    since the tables were small.
    """
    with custom_plans(session):
        cadres, existing = load_cadres(session, items), load_existing(session, items)
        decided: dict[int, Outcome] = {}
        prepared: list[Prepared] = []
        for index, item in enumerate(items):
            result = prepare(session, ctx, index, item, cadres)
            if isinstance(result, Outcome):
                decided[index] = result
            else:
                prepared.append(result)
        return decided, prepared, existing, load_open_invitations(session, ctx, prepared)


def write_batch(session: Session, ctx: IngestContext,
                items: Sequence[EventInput]) -> tuple[list[Outcome], bool]:
    """Validate, de-duplicate, throttle and write a batch; the caller commits."""
    decided, prepared, existing, open_invitations = plan(session, ctx, items)
    fresh: list[Prepared] = []
    seen: dict[tuple, Prepared] = {}
    for p in prepared:
        key = (p.data.source, p.data.external_id)
        if key in existing:
            decided[p.index] = replay(ctx, existing[key], p)
        elif key in seen:
            decided[p.index] = intra_batch_replay(seen[key], p)
        else:
            seen[key] = p
            assign_invitation(ctx, p, open_invitations)
            fresh.append(p)
    bodies, to_send = write_rows(session, ctx, fresh)
    for p in fresh:
        decided[p.index] = Outcome(Result.CREATED, body=bodies[p.index])
    for index, outcome in list(decided.items()):
        if outcome.result is Result.REPEAT:  # a repeat inside the batch: same body as its first
            decided[index] = Outcome(Result.REPLAYED, body=bodies[outcome.body["first"]])
    return [decided[i] for i in range(len(items))], to_send


def intra_batch_replay(first: Prepared, p: Prepared) -> Outcome:
    """Answer a (source, external_id) repeated within one batch."""
    if first.content_hash != p.content_hash:
        return Outcome(Result.CONFLICT,
                       message="该事件（source, external_id）在本批中重复且内容不同")
    return Outcome(Result.REPEAT, body={"first": first.index})


def assign_invitation(ctx: IngestContext, p: Prepared, open_invitations: dict) -> None:
    """Give an event its invitation: the recipient's open one (throttled) or a new one."""
    existing = find_throttle(ctx, p, open_invitations)
    if existing is not None:
        p.invitation, p.throttled = existing, True
        return
    p.invitation = new_invitation(ctx, p)
    for kind in ("phone_hash", "openid_hash"):
        if p.invitation[kind]:
            open_invitations[(p.cadre.id, kind, p.invitation[kind])] = p.invitation


def write_rows(session: Session, ctx: IngestContext,
               fresh: list[Prepared]) -> tuple[dict[int, dict], bool]:
    """Insert invitations, events and deliveries with multi-row INSERTs; return bodies."""
    if not fresh:
        return {}, False
    new = [i for i in {id(p.invitation): p.invitation for p in fresh}.values() if "id" not in i]
    ids = dict(insert_rows(session, Invitation.__table__, new, returning=("token", "id")))
    for invitation in new:
        invitation["id"] = ids[invitation["token"]]
    stored = insert_rows(session, ServiceEvent.__table__, [event_row(ctx, p) for p in fresh],
                         returning=("source", "external_id", "id"))
    event_ids = {(source, external_id): eid for source, external_id, eid in stored}
    deliveries = []
    bodies = {}
    for p in fresh:
        event_id = event_ids[(p.data.source, p.data.external_id)]
        deliveries.extend(delivery_rows(ctx, p, event_id))
        bodies[p.index] = link_body(ctx, event_id, p.throttled, p.invitation["token"],
                                    p.invitation["expires_at"])
    insert_rows(session, Delivery.__table__, deliveries)
    return bodies, bool(deliveries)


def event_row(ctx: IngestContext, p: Prepared) -> dict:
    """Return the row of a service event."""
    return {"source": p.data.source, "external_id": p.data.external_id,
            "cadre_id": p.cadre.id, "event_type": p.data.event_type,
            "occurred_at": p.data.occurred_at, "channels": ",".join(sorted(set(p.data.channels))),
            "content_hash": p.content_hash, "invitation_id": p.invitation["id"],
            "throttled": p.throttled, "created_at": ctx.now}


def delivery_rows(ctx: IngestContext, p: Prepared, event_id: int) -> list[dict]:
    """Return outbox rows for the event's sending channels (none when throttled)."""
    if p.throttled:
        return []
    hours = p.template.definition["invitation"]["delivery_deadline_hours"]
    phone = normalise_phone(p.data.phone) if p.data.phone else None
    base = {"invitation_id": p.invitation["id"], "event_id": event_id, "status": "pending",
            "attempts": 0, "next_attempt_at": ctx.now, "created_at": ctx.now,
            "due_by": p.data.occurred_at + timedelta(hours=hours)}
    rows = []
    if "sms" in p.data.channels:
        rows.append({**base, "channel": "sms", "contact_enc": ctx.vault.encrypt(phone),
                     "fallback_phone_enc": None})
    if "wechat" in p.data.channels:
        rows.append({**base, "channel": "wechat", "contact_enc": ctx.vault.encrypt(p.data.openid),
                     "fallback_phone_enc": ctx.vault.encrypt(phone) if phone else None})
    return rows
