"""A small county with activity of every kind and users of every role, for console tests."""

from __future__ import annotations

import hashlib
import random
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import select, update
from werkzeug.security import generate_password_hash

from backend.extensions import db
from backend.models import (
    BallotTarget,
    Cadre,
    Campaign,
    CampaignRater,
    CampaignTurnout,
    Case,
    CaseEvidence,
    ConsoleUser,
    Delivery,
    FollowupContact,
    FunnelCount,
    Invitation,
    OpenTag,
    Rating,
    ReportBatch,
    ReviewItem,
    SurveyTemplate,
    Unit,
    UseTag,
    WebhookMessage,
)
from backend.services.alerts.records import raise_alert
from backend.services.cases.evidence import write_file
from backend.services.cases.opening import CaseRules, open_for_ratings
from backend.services.demo.seed import seed
from backend.services.invitations.events import EventInput, IngestContext, Result
from backend.services.invitations.ingestion import ingest_events
from backend.services.outbox.push import queue_messages
from backend.services.ratings.opens import event_channel
from backend.services.reports.rollups import refresh
from backend.services.scores import counts
from backend.services.sealing.mac import rating_mac
from backend.services.templates.catalogue import register
from backend.wiring import evidence_settings, sealer, token_codec, vault

TZ = ZoneInfo("Asia/Shanghai")
PASSWORD = "console-pass-2026"
ROLES = ("org_admin", "unit_admin", "viewer", "auditor")
USERS = {"org_admin": "org", "unit_admin": "town", "viewer": "watcher", "auditor": "checker"}
OWN_UNIT, OTHER_UNIT = "XZ100", "XZ101"  # 城关镇 (with 东街社区 below) and 青山乡
PHONE = "13800138000"


@dataclass
class World:
    """Ids of the rows the tests refer to."""

    units: dict[str, int] = field(default_factory=dict)
    cadres: dict[str, int] = field(default_factory=dict)
    alerts: dict[str, int] = field(default_factory=dict)
    campaign_id: int = 0
    followup_id: int = 0
    rater_id: int = 0
    dead_webhook: str = ""
    case_id: int = 0
    evidence_id: int = 0  # a file of the case
    batch_id: int = 0  # a finished report batch of 城关镇
    other_batch_id: int = 0  # one of 青山乡
    month: str = ""
    review_id: int = 0


def add_users() -> None:
    """Create one user per role; the unit admin manages 城关镇."""
    town = db.session.scalar(select(Unit).where(Unit.code == OWN_UNIT))
    for role, name in USERS.items():
        db.session.add(ConsoleUser(username=name, role=role,
                                   unit=town if role == "unit_admin" else None,
                                   password_hash=generate_password_hash(PASSWORD)))
    other = db.session.scalar(select(Unit).where(Unit.code == OTHER_UNIT))
    db.session.add(ConsoleUser(username="village", role="unit_admin", unit=other,
                               password_hash=generate_password_hash(PASSWORD)))
    db.session.commit()


def add_events(now: datetime) -> None:
    """Ingest today's service events for officials of several units over every channel."""
    items = []
    for n in range(24):
        cadre = ("C001", "C009", "C002", "C004")[n % 4]  # 城关镇, 东街社区, 青山乡, 审批局
        channels = (("sms",), ("qr",), ("wechat",))[n % 3]
        items.append(EventInput("console-test", f"E-{n}", cadre,
                                ("approval", "village_visit")[n % 2], now - timedelta(hours=1),
                                phone=f"1390000{n:04d}", openid=f"openid-{n}",
                                channels=channels))
    ingest(now, items)


def mark(invitation: Invitation, day, used: bool, opened: bool) -> None:
    """Record a use and an opening as release would: keyed tags and the funnel's counters."""
    if used:
        db.session.add(UseTag(tag=sealer().tags("use", invitation.token)[0]))
    if opened:
        db.session.add(OpenTag(tag=sealer().tags("open", invitation.token)[0]))
    key = (day, invitation.cadre_id, invitation.event_type,
           event_channel(db.session, invitation))
    counts.add_many(db.session, FunnelCount, ("day", "cadre_id", "event_type", "channel"),
                    {key: {"opened": int(opened), "rated": int(used)}})


def deliver_and_use(now: datetime) -> None:
    """Deliver most messages, use a third of the invitations and open some."""
    deliveries = db.session.scalars(select(Delivery).where(Delivery.status == "pending")
                                    .order_by(Delivery.id)).all()
    for n, row in enumerate(deliveries):
        row.status = "failed" if n % 5 == 4 else "sent"
        row.delivered_at = None if row.status == "failed" else now - timedelta(minutes=30)
    invitations = db.session.scalars(select(Invitation).where(Invitation.created_at == now)
                                     .order_by(Invitation.id)).all()
    for n, invitation in enumerate(invitations):
        if n % 3 == 0 or n % 2 == 0:
            mark(invitation, now.astimezone(TZ).date(), used=n % 3 == 0, opened=n % 2 == 0)
    db.session.commit()


def add_ratings(world: World, now: datetime) -> None:
    """Add ratings with comments (one formula-like) and a follow-up request."""
    template = db.session.scalar(select(SurveyTemplate).where(SurveyTemplate.key ==
                                                              "service_event"))
    month = now.astimezone(TZ).strftime("%Y-%m")
    comments = ["=HYPERLINK(\"http://evil\")", "窗口办事效率高", "+1 很满意", None]
    for n, comment in enumerate(comments):
        rating = Rating(cadre_id=world.cadres["C001"], rater_group="recipient", score=8 - n,
                        tags=["热情周到"], comment=comment, template_id=template.id,
                        event_type="approval", batch_at=now.replace(minute=0, second=0,
                                                                    microsecond=0),
                        month=month, receipt_hash=f"{n:064x}", status="valid")
        rating.mac = rating_mac(sealer(), rating)
        db.session.add(rating)
        counts.add_rating(db.session, rating.cadre_id, month, "recipient", rating.score,
                          rating.tags)
        db.session.flush()
    add_quiet_ratings(world, template.id, now, month)
    follow = FollowupContact(rating_id=rating.id, phone_enc=vault().encrypt(PHONE),
                             created_at=now)
    db.session.add(follow)
    db.session.commit()
    world.followup_id = follow.id
    # The last rating (5, with a follow-up phone) has a case (整改单) under a bar of 5.
    opened = {"id": rating.id, "score": rating.score, "tags": rating.tags,
              "template_id": template.id, "cadre_id": rating.cadre_id, "month": month}
    open_for_ratings(db.session, [opened], CaseRules(bad_max=5), TZ, now)
    db.session.commit()
    world.case_id = db.session.scalar(select(Case.id).where(Case.rating_id == rating.id))
    add_review_item(world, now)


def add_evidence_file(world: World, now: datetime) -> None:
    """Give the world's case one stored evidence file (a tiny PNG), as an upload would have
    (for the walks over every route; the evidence tests upload their own)."""
    data = b"\x89PNG\r\n\x1a\n" + b"\0" * 24
    stored = secrets.token_hex(16)
    write_file(evidence_settings().directory, stored, data)
    row = CaseEvidence(case_id=world.case_id, stored_name=stored, filename="回访记录.png",
                       kind="png", size=len(data), sha256=hashlib.sha256(data).hexdigest(),
                       uploaded_by="unit1", uploaded_at=now)
    db.session.add(row)
    db.session.commit()
    world.evidence_id = row.id


def add_review_item(world: World, now: datetime) -> None:
    """Add an open fraud review item naming C001's first two ratings (one address, a day)."""
    ids = sorted(db.session.scalars(select(Rating.id).where(
        Rating.cadre_id == world.cadres["C001"])))[:2]
    day = now.astimezone(TZ).date().isoformat()
    item = ReviewItem(kind="address", subject="address:3f9a1c2b7d4e", window=day,
                      cadre_id=world.cadres["C001"], rating_ids=ids, created_at=now,
                      updated_at=now, evidence={"hash": "3f9a1c2b7d4e", "day": day,
                                                "ratings": len(ids), "officials": 1,
                                                "devices": 1})
    db.session.add(item)
    db.session.commit()
    world.review_id = item.id


def add_quiet_ratings(world: World, template_id: int, now: datetime, month: str) -> None:
    """Add six recipient ratings without comments: the month's recipients reach their minimum
    of 10, so the comments above may be shown (a group below it shows none)."""
    for n in range(6):
        rating = Rating(cadre_id=world.cadres["C001"], rater_group="recipient", score=9,
                        tags=[], comment=None, template_id=template_id, event_type="approval",
                        batch_at=now.replace(minute=0, second=0, microsecond=0), month=month,
                        receipt_hash=f"{n + 100:064x}", status="valid")
        rating.mac = rating_mac(sealer(), rating)
        db.session.add(rating)
        counts.add_rating(db.session, rating.cadre_id, month, "recipient", 9, [])
    db.session.flush()


def add_alerts(world: World, now: datetime) -> None:
    """Raise alerts for an official of each unit and one of the push system."""
    for code in ("C001", "C002"):
        alert = raise_alert(db.session, "delivery_overdue", world.cadres[code], "2026-11",
                            {"overdue": 2, "events": 1, "channels": {"sms": 2}}, now)
        db.session.flush()
        world.alerts[code] = alert.id
    world.alerts["system"] = raise_alert(db.session, "push_dead_letters", None, "2026-11",
                                         {"message": "死信", "dead": 1}, now).id
    db.session.commit()


def add_campaign(world: World, now: datetime) -> None:
    """Create a campaign rating 城关镇's official with two raters, one of whom answered."""
    template = register(db.session, current_app.extensions["catalogue"].templates[
        "democratic_appraisal"])
    campaign = Campaign(code="2026-Q4-T", name="城关镇班子民主测评", template_id=template.id,
                        period="2026-Q4", closes_at=now + timedelta(days=7), created_at=now)
    db.session.add(campaign)
    db.session.flush()
    for n, group in enumerate(("peer", "superior")):
        invitation = Invitation(token=f"ballot-token-{n}", kind="ballot",
                                template_id=template.id, campaign_id=campaign.id,
                                created_at=now, expires_at=now + timedelta(days=7))
        db.session.add(invitation)
        db.session.flush()
        if n:  # the superior answered
            db.session.add(UseTag(tag=sealer().tags("use", invitation.token)[0]))
            db.session.add(CampaignTurnout(campaign_id=campaign.id, rater_group=group,
                                           day=now.astimezone(TZ).date(), answered=1))
        db.session.add(BallotTarget(invitation_id=invitation.id,
                                    cadre_id=world.cadres["C001"], rater_group=group))
        rater = CampaignRater(campaign_id=campaign.id, code=f"R{n}", name=f"评价人{n}",
                              rater_group=group, phone_enc=vault().encrypt(PHONE),
                              invitation_id=invitation.id)
        db.session.add(rater)
        db.session.flush()
        world.rater_id = world.rater_id or rater.id
    db.session.commit()
    world.campaign_id = campaign.id


def add_webhooks(world: World, now: datetime) -> None:
    """Queue two pushes and bury one as a dead letter."""
    queue_messages(db.session, [("score.published", {"cadre_code": "C001"}, f"w{n}", "2026-11")
                                for n in range(2)], now)
    db.session.commit()
    dead = db.session.scalars(select(WebhookMessage).order_by(WebhookMessage.id)).first()
    db.session.execute(update(WebhookMessage).where(WebhookMessage.id == dead.id)
                       .values(status="dead", attempts=10, last_error="HTTP 500"))
    db.session.commit()
    world.dead_webhook = dead.webhook_id


def add_report_batches(world: World, now: datetime) -> None:
    """Record a finished batch of reports for 城关镇 and one for 青山乡."""
    world.month = now.astimezone(TZ).strftime("%Y-%m")
    for code in ("XZ100", "XZ101"):
        batch = ReportBatch(unit_id=world.units[code], period=world.month, requested_by="org",
                            status="done", total=1, done=1, pdf=b"%PDF-1.4 test", created_at=now,
                            with_subordinates=False, with_comments=False)
        db.session.add(batch)
        db.session.flush()
        if code == "XZ100":
            world.batch_id = batch.id
        else:
            world.other_batch_id = batch.id
    db.session.commit()


def ingest(now: datetime, items: list[EventInput]) -> None:
    """Ingest events as if it were `now`."""
    ctx = IngestContext(codec=token_codec(), vault=vault(),
                        catalogue=current_app.extensions["catalogue"],
                        base_url=current_app.config["PUBLIC_BASE_URL"], tz=TZ, now=now,
                        sealer=sealer())
    outcomes, _ = ingest_events(db.session, ctx, items)
    assert {o.result for o in outcomes} == {Result.CREATED}, outcomes


def add_history(now: datetime, days: int = 30) -> None:
    """Add a month of events whose response differs by unit, for charts worth looking at."""
    cadres = [f"C{n:03d}" for n in range(1, 11)]  # one official in each of the ten units
    for back in range(days - 1, 0, -1):
        moment = now - timedelta(days=back)
        items = [EventInput("history", f"H-{back}-{n}", cadres[n % 10],
                            ("approval", "village_visit", "enterprise_reception")[n % 3],
                            moment - timedelta(hours=2), phone=f"1370{back:03d}{n:04d}",
                            channels=(("sms",), ("qr",))[n % 2]) for n in range(12 + back % 5)]
        ingest(moment, items)
        settle_history(moment, back)


def settle_history(moment: datetime, back: int) -> None:
    """Deliver a day's messages and use invitations at a rate that depends on the unit."""
    rng = random.Random(back)
    for row in db.session.scalars(select(Delivery).where(Delivery.status == "pending")):
        row.status = "failed" if rng.random() < 0.06 else "sent"
        late = rng.random() < 0.08
        row.delivered_at = None if row.status == "failed" else moment + timedelta(
            hours=30 if late else 1)
    fresh = select(Invitation).where(Invitation.created_at == moment)
    for invitation in db.session.scalars(fresh).all():
        if rng.random() < 0.25 + 0.06 * (invitation.cadre_id % 8):
            mark(invitation, moment.astimezone(TZ).date(), used=True, opened=False)
    db.session.commit()


def build_world(now: datetime, history: bool = False) -> World:
    """Seed the demo county and add activity of every kind; refresh the rollups."""
    seed(db.session)
    world = World(units=dict(db.session.execute(select(Unit.code, Unit.id)).all()),
                  cadres=dict(db.session.execute(select(Cadre.code, Cadre.id)).all()))
    add_users()
    if history:
        add_history(now)
    add_events(now)
    deliver_and_use(now)
    add_ratings(world, now)
    add_alerts(world, now)
    add_campaign(world, now)
    add_webhooks(world, now)
    add_report_batches(world, now)
    refresh(db.session, now, TZ)
    return world


def https_client(app):
    """Return a test client speaking https (the session cookie is Secure)."""
    client = app.test_client()
    client.environ_base["wsgi.url_scheme"] = "https"
    return client


def csrf_of(html: str) -> str:
    """Return the CSRF token of the first form of a page."""
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def sign_in(client, username: str, password: str = PASSWORD):
    """Sign a test client in; return the response."""
    token = csrf_of(client.get("/console/login").get_data(as_text=True))
    return client.post("/console/login", data={"username": username, "password": password,
                                               "csrf_token": token})


def form_token(client, path: str = "/console/alerts") -> str:
    """Return a CSRF token of the client's session, read from a page it may open."""
    return csrf_of(client.get(path).get_data(as_text=True))
