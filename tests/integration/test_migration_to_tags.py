"""Migration 0010 moves a running deployment's data to tags, counters and MACs, losing nothing.

A database at 0009 is filled the way the platform kept it before: uses and first openings
marked on invitations, ratings with their submission hour and ledger entries, reminders per
rater, messages holding their links. After the upgrade the marks are gone, and what they said
lives on as keyed tags and aggregate counters; every rating verifies with its new MAC.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade

from backend import create_app, wiring
from backend.extensions import db
from backend.models.types import UTCDateTime
from backend.scoring.merkle import GENESIS, chain_hash, leaf_hash, receipt_hash
from backend.services.invitations.deliveries import LINK
from backend.services.ledger.chain import verify
from backend.services.sealing import uses
from backend.services.templates.catalogue import register
from tests.conftest import base_config, private_postgres_database

TZ = ZoneInfo("Asia/Shanghai")
USED = datetime(2026, 11, 18, 3, tzinfo=UTC)  # 11:00 in Shanghai, 18 November
TOKENS = {"a": "A" * 20, "b": "B" * 20, "c": "C" * 20, "ballot": "D" * 20, "idle": "E" * 20}
T = UTCDateTime()


def table(name: str, *columns) -> sa.Table:
    """Describe a table as it was at 0009, only the columns written here."""
    return sa.table(name, *[sa.column(c) if isinstance(c, str) else c for c in columns])


@pytest.fixture(params=["sqlite", "postgresql"])
def old_database(request, tmp_path):
    if request.param == "sqlite":
        yield "sqlite:///" + str(tmp_path / "old.db")
        return
    with private_postgres_database("ssp_old") as url:
        yield url


def fill_old(conn, template_id: int, ballot_template_id: int, cadre_id: int) -> None:
    """Write what the platform stored before uses became tags."""
    invitations = table("invitations", "id", "token", "kind", "template_id", "cadre_id",
                        "event_type", "campaign_id", sa.column("created_at", T),
                        sa.column("expires_at", T), sa.column("used_at", T))
    later = USED + timedelta(days=7)
    rows = [(1, "a", "event", USED), (2, "b", "event", None), (3, "c", "event", None)]
    conn.execute(invitations.insert(), [
        {"id": i, "token": TOKENS[k], "kind": kind, "template_id": template_id,
         "cadre_id": cadre_id, "event_type": "approval", "campaign_id": None,
         "created_at": USED - timedelta(hours=1), "expires_at": later, "used_at": used}
        for i, k, kind, used in rows])
    conn.execute(table("campaigns", "id", "code", "name", "template_id", "period", "status",
                       sa.column("closes_at", T), "max_reminders", sa.column("created_at", T))
                 .insert(), [{"id": 1, "code": "OLD", "name": "旧测评",
                              "template_id": ballot_template_id, "period": "2026-Q4",
                              "status": "open", "closes_at": later, "max_reminders": 2,
                              "created_at": USED - timedelta(days=2)}])
    conn.execute(invitations.insert(), [
        {"id": i, "token": TOKENS[k], "kind": "ballot", "template_id": ballot_template_id,
         "cadre_id": None, "event_type": None, "campaign_id": 1,
         "created_at": USED - timedelta(days=2), "expires_at": later, "used_at": used}
        for i, k, used in ((4, "ballot", USED.replace(hour=16)), (5, "idle", None))])
    conn.execute(table("campaign_raters", "id", "campaign_id", "code", "name", "rater_group",
                       "invitation_id", "reminders_sent", sa.column("last_reminded_at", T))
                 .insert(), [{"id": n, "campaign_id": 1, "code": f"R{n}", "name": f"测评人{n}",
                              "rater_group": "peer", "invitation_id": n + 3,
                              "reminders_sent": 2 if n == 2 else 1,
                              "last_reminded_at": USED} for n in (1, 2)])
    events = table("service_events", "id", "source", "external_id", "cadre_id", "event_type",
                   sa.column("occurred_at", T), "channels", "content_hash", "invitation_id",
                   "throttled", sa.column("created_at", T))
    conn.execute(events.insert(), [
        {"id": i, "source": "old", "external_id": f"E{i}", "cadre_id": cadre_id,
         "event_type": "approval", "occurred_at": USED - timedelta(hours=2),
         "channels": channels, "content_hash": "x" * 64, "invitation_id": i, "throttled": False,
         "created_at": USED - timedelta(hours=1)}
        for i, channels in ((1, "sms"), (2, "wechat"), (3, "qr"))])
    deliveries = table("deliveries", "id", "invitation_id", "event_id", "campaign_rater_id",
                       "channel", "status", "message", "attempts", sa.column("next_attempt_at", T),
                       sa.column("due_by", T), sa.column("created_at", T))
    link = "https://ssp.example.cn/r/" + TOKENS["a"] + "." + "s" * 27
    conn.execute(deliveries.insert(), [
        {"id": 1, "invitation_id": 1, "event_id": 1, "campaign_rater_id": None,
         "channel": "sms", "status": "sent", "message": f"【随时评】请评价：{link}",
         "attempts": 1, "next_attempt_at": USED, "due_by": later, "created_at": USED},
        {"id": 2, "invitation_id": 5, "event_id": None, "campaign_rater_id": 2,
         "channel": "sms", "status": "pending", "message": None, "attempts": 0,
         "next_attempt_at": USED, "due_by": later, "created_at": USED}])
    conn.execute(table("invitation_uses", "invitation_id", "used_on").insert(),
                 [{"invitation_id": i, "used_on": USED.date()} for i in (1, 4)])
    conn.execute(table("invitation_opens", "invitation_id", sa.column("opened_at", T)).insert(),
                 [{"invitation_id": i, "opened_at": USED} for i in (1, 2)])


def fill_ratings(conn, template_id: int, ballot_template_id: int, cadre_id: int) -> None:
    """Write three ratings, their counts and their ledger entries as the sequencer did."""
    ratings = table("ratings", "id", "cadre_id", "rater_group", "score", sa.column("tags", sa.JSON),
                    "comment", "template_id", "event_type", sa.column("submitted_hour", T),
                    "month", "receipt_hash", "status")
    hour = USED.replace(minute=0)
    rows = [{"id": 1, "cadre_id": cadre_id, "rater_group": "recipient", "score": 3,
             "tags": ["办事拖拉"], "comment": "跑了三趟", "template_id": template_id,
             "event_type": "approval", "submitted_hour": hour, "month": "2026-11",
             "receipt_hash": receipt_hash("r1", 0), "status": "valid"}]
    rows += [{"id": n, "cadre_id": cadre_id, "rater_group": "peer", "score": 8, "tags": [],
              "comment": None, "template_id": ballot_template_id, "event_type": None,
              "submitted_hour": hour.replace(hour=16), "month": "2026-11",
              "receipt_hash": receipt_hash("r2", n), "status": "valid"} for n in (2, 3)]
    conn.execute(ratings.insert(), rows)
    counts = table("rating_counts", "cadre_id", "month", "rater_group", "score", "count")
    conn.execute(counts.insert(), [
        {"cadre_id": cadre_id, "month": "2026-11", "rater_group": "recipient", "score": 3,
         "count": 1},
        {"cadre_id": cadre_id, "month": "2026-11", "rater_group": "peer", "score": 8,
         "count": 2}])
    conn.execute(table("rating_tag_counts", "cadre_id", "month", "rater_group", "tag", "count")
                 .insert(), [{"cadre_id": cadre_id, "month": "2026-11",
                              "rater_group": "recipient", "tag": "办事拖拉", "count": 1}])
    entries, chain = [], GENESIS
    for row in rows:
        leaf = leaf_hash(type("Old", (), {**row, "batch_at": row["submitted_hour"]}))
        chain = chain_hash(chain, leaf)
        entries.append({"seq": row["id"], "rating_id": row["id"], "leaf_hash": leaf,
                        "chain_hash": chain, "day": USED.date(), "created_at": USED})
    conn.execute(table("ledger_entries", "seq", "rating_id", "leaf_hash", "chain_hash", "day",
                       sa.column("created_at", T)).insert(), entries)


def test_the_upgrade_keeps_every_use_opening_reminder_and_rating_and_drops_the_marks(
        old_database):
    app = create_app(base_config(old_database))
    with app.app_context():
        upgrade(revision="0009")
        catalogue = app.extensions["catalogue"]
        template = register(db.session, catalogue.templates["service_event"])
        ballot_template = register(db.session, catalogue.templates["democratic_appraisal"])
        db.session.commit()
        ids = (template.id, ballot_template.id)
        with db.engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO units (id, code, name, category, created_at, "
                                 "updated_at) VALUES (1, 'U1', '旧单位', 'township', "
                                 ":t, :t)"), {"t": USED.replace(tzinfo=None)})
            conn.execute(sa.text("INSERT INTO cadres (id, code, name, unit_id, position, active, "
                                 "created_at, updated_at) VALUES (1, 'C1', '旧干部', 1, '镇长', "
                                 ":yes, :t, :t)"), {"t": USED.replace(tzinfo=None), "yes": True})
            fill_old(conn, *ids, 1)
            fill_ratings(conn, *ids, 1)
        upgrade()
        check_upgraded(app)
        db.session.remove()
        db.engine.dispose()


def check_upgraded(app) -> None:
    sealer = wiring.sealer(app)
    columns = {c["name"] for c in sa.inspect(db.engine).get_columns("invitations")}
    assert "used_at" not in columns
    tables = set(sa.inspect(db.engine).get_table_names())
    assert not tables & {"invitation_uses", "invitation_opens"}
    tokens = list(TOKENS.values())
    assert uses.used_tokens(db.session, sealer, tokens) == {TOKENS["a"], TOKENS["ballot"]}
    assert uses.tagged(db.session, sealer, uses.OPEN, tokens) == {TOKENS["a"], TOKENS["b"]}
    day = USED.astimezone(TZ).date()
    funnel = db.session.execute(sa.text(
        "SELECT channel, opened, rated FROM funnel_counts WHERE day = :d ORDER BY channel"),
        {"d": day}).all()
    assert [tuple(r) for r in funnel] == [("sms", 1, 1), ("wechat", 1, 0)]
    turnout = db.session.execute(sa.text("SELECT rater_group, answered FROM campaign_turnout"))
    assert [tuple(r) for r in turnout.all()] == [("peer", 1)]
    assert db.session.execute(sa.text(
        "SELECT reminders_sent FROM campaigns")).scalar() == 2
    reminder = db.session.execute(sa.text(
        "SELECT invitation_id, campaign_id, sealed_ref FROM deliveries WHERE id = 2")).one()
    assert reminder[0] is None and reminder[1] == 1
    assert sealer.open(reminder[2]) == {"invitation_id": 5}
    message = db.session.execute(sa.text("SELECT message FROM deliveries WHERE id = 1")).scalar()
    assert message == f"【随时评】请评价：{LINK}"
    macs = db.session.execute(sa.text("SELECT count(*) FROM ratings WHERE mac LIKE '%:%'"))
    assert macs.scalar() == 3
    result = verify(db.session, sealer)
    assert result.ok and result.entries == 3, result.message()
