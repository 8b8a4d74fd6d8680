"""Batch ingestion on PostgreSQL: events per second for batches of 1,000.

Baseline, same run: a bare multi-row INSERT of the same rows (1,000 invitations, events and
outbox rows, values precomputed) into the same tables, with no application in between.
Target: at least 3,000 events/s.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from tests.perf.report import Result, median
from tests.perf.support import bench_app, fresh_database, timed

BATCH = 1000
TARGET_EVENTS_PER_SECOND = 3000


def seed_directory(session, cadres: int = 2000) -> None:
    """Create 20 units and `cadres` cadres with one INSERT each."""
    from backend.models import Cadre, Unit
    from backend.services.templates.catalogue import register_all

    register_all(session, session.info["catalogue"])
    session.execute(sa.insert(Unit), [{"code": f"U{u:02d}", "name": f"单位{u}",
                                       "category": "township"} for u in range(20)])
    units = dict(session.execute(sa.select(Unit.code, Unit.id)).all())
    session.execute(sa.insert(Cadre), [{"code": f"C{c:05d}", "name": f"干部{c}",
                                        "unit_id": units[f"U{c % 20:02d}"], "position": "科长",
                                        "active": True} for c in range(cadres)])
    session.commit()


def batch(round_no: int) -> list[dict]:
    """Return 1,000 distinct events (distinct phones: nothing is throttled)."""
    occurred = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    return [{"source": "bench", "external_id": f"R{round_no}-{n}",
             "cadre_code": f"C{(round_no * BATCH + n) % 2000:05d}", "event_type": "approval",
             "occurred_at": occurred, "recipient": {"phone": f"13{round_no % 10}{n:08d}"},
             "channels": ["sms", "qr"]} for n in range(BATCH)]


def bare_rows(session, round_no: int) -> tuple[list[dict], list[dict], list[dict]]:
    """Precompute rows shaped like ingestion's, for the bare INSERT baseline."""
    from backend.models import Cadre, SurveyTemplate
    from backend.services.invitations.tokens import new_token

    now = datetime.now(UTC)
    template_id = session.scalar(sa.select(SurveyTemplate.id).limit(1))
    cadre_ids = list(session.scalars(sa.select(Cadre.id).limit(BATCH)))
    invitations = [{"token": new_token(), "kind": "event", "template_id": template_id,
                    "cadre_id": cadre_ids[n], "event_type": "approval", "phone_hash": "f" * 64,
                    "created_at": now, "expires_at": now + timedelta(days=7)}
                   for n in range(BATCH)]
    events = [{"source": "bare", "external_id": f"B{round_no}-{n}", "cadre_id": cadre_ids[n],
               "event_type": "approval", "occurred_at": now, "channels": "qr,sms",
               "content_hash": "e" * 64, "throttled": False, "created_at": now}
              for n in range(BATCH)]
    deliveries = [{"channel": "sms", "status": "pending", "contact_enc": "g" * 120,
                   "attempts": 0, "next_attempt_at": now, "due_by": now, "created_at": now}
                  for _ in range(BATCH)]
    return invitations, events, deliveries


def multi_row_insert(cursor, table: str, rows: list[dict], returning: bool) -> list:
    """Run one INSERT ... VALUES (...), (...) with driver-level parameters."""
    columns = list(rows[0])
    values = ", ".join("(" + ", ".join(["%s"] * len(columns)) + ")" for _ in rows)
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES {values}"  # noqa: S608 (fixed names)
    cursor.execute(sql + (" RETURNING id" if returning else ""),
                   [row[c] for row in rows for c in columns])
    return [r[0] for r in cursor.fetchall()] if returning else []


def bare_insert(engine, rows) -> None:
    """Insert the precomputed rows as three bare multi-row INSERTs in one transaction."""
    invitations, events, deliveries = rows
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        ids = multi_row_insert(cursor, "invitations", invitations, returning=True)
        for event, invitation_id in zip(events, ids, strict=True):
            event["invitation_id"] = invitation_id
        event_ids = multi_row_insert(cursor, "service_events", events, returning=True)
        for delivery, invitation_id, event_id in zip(deliveries, ids, event_ids, strict=True):
            delivery.update(invitation_id=invitation_id, event_id=event_id)
        multi_row_insert(cursor, "deliveries", deliveries, returning=False)
        connection.commit()
    finally:
        connection.close()


def measure(app, rounds: int) -> tuple[list[float], list[float]]:
    """Time the API and the bare INSERT, interleaved so noise hits both alike."""
    from backend.extensions import db
    from backend.services.accounts.api_clients import create_client

    with app.app_context():
        db.session.info["catalogue"] = app.extensions["catalogue"]
        seed_directory(db.session)
        _, key = create_client(db.session, "bench", ["events:write"])
    client, headers = app.test_client(), {"Authorization": f"Bearer {key}"}
    api, bare = [], []
    for r in range(rounds):
        payload = {"events": batch(r)}
        response = None

        def post(payload=payload):
            nonlocal response
            response = client.post("/api/v1/events/batch", json=payload, headers=headers)

        api.append(timed(post))
        assert {i["status"] for i in response.get_json()["results"]} == {201}
        with app.app_context():
            rows = bare_rows(db.session, r)
            bare.append(timed(lambda rows=rows: bare_insert(db.engine, rows)))
    return api, bare


def run(quick: bool = False, smoke: bool = False) -> list[Result]:
    """Measure ingestion against the bare INSERT baseline (smoke: one round)."""
    with fresh_database() as url:
        app = bench_app(url)
        api, bare = measure(app, 1 if smoke else 3 if quick else 9)
        from backend.extensions import db

        with app.app_context():
            db.engine.dispose()
    rate, bare_rate = BATCH / median(api), BATCH / median(bare)
    return [Result("ingestion", "batch of 1,000 events (PostgreSQL)", rate, "events/s",
                   baseline=bare_rate, baseline_label="bare multi-row INSERT, events/s",
                   ratio=rate / bare_rate, target=f">= {TARGET_EVENTS_PER_SECOND} events/s",
                   met=rate >= TARGET_EVENTS_PER_SECOND if not smoke else None, samples=api)]
