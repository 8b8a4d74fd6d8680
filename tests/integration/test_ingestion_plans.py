"""A batch's lookups are planned for its keys: no plan kept from small tables scans them whole.

Ingestion looks up a batch's stored events, cadres and open invitations with one query each.
psycopg prepares a statement a connection runs often, and PostgreSQL may then keep a generic
plan made while the tables were small; the stored events were once looked up by external_id
alone, and such a plan scanned the whole table for every batch (seconds a batch at 300,000
events). These run on PostgreSQL; SQLite has neither prepared plans nor the planner's choice.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from backend.extensions import db
from backend.services.demo.seed import seed
from backend.services.invitations.events import EventInput
from backend.services.invitations.ingestion import existing_query, ingest_events

OCCURRED = datetime.now(UTC) - timedelta(hours=1)


@pytest.fixture
def on_postgres(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("prepared statements and generic plans are PostgreSQL's")


def batch(round_no: int, size: int = 20) -> list[EventInput]:
    return [EventInput(source="approval-system", external_id=f"P{round_no}-{n}",
                       cadre_code=f"C{1 + n % 3:03d}", event_type="approval",
                       occurred_at=OCCURRED, phone=f"139{round_no:03d}{n:05d}",
                       channels=("sms", "qr")) for n in range(size)]


def driver(session):
    return session.connection().connection.driver_connection


def test_a_batchs_lookups_are_never_prepared_and_other_statements_still_are(
        app, session, on_postgres):
    from backend.api.events import ingest_context

    seed(session)
    session.commit()
    connection = driver(session)
    threshold = connection.prepare_threshold
    for round_no in range(8):  # more than psycopg's threshold (5) on one connection
        outcomes, _ = ingest_events(session, ingest_context(), batch(round_no))
        assert {o.result.value for o in outcomes} == {"created"}
        assert driver(session) is connection
    assert connection.prepare_threshold == threshold
    prepared = session.execute(text("SELECT statement FROM pg_prepared_statements")).scalars()
    lookups = [s for s in prepared if "= ANY" in s]
    assert lookups == []
    for _ in range(threshold + 1):  # outside a batch's lookups, psycopg prepares as before
        session.execute(text("SELECT count(*) FROM cadres WHERE code = :code"), {"code": "C001"})
    assert session.execute(text("SELECT count(*) FROM pg_prepared_statements "
                                "WHERE statement LIKE '%FROM cadres WHERE code%'")).scalar() == 1


def test_stored_events_are_found_through_their_unique_index(app, session, on_postgres):
    from backend.api.events import ingest_context

    seed(session)
    ingest_events(session, ingest_context(), batch(0))  # registers the event template
    session.execute(text(
        "INSERT INTO invitations (token, kind, template_id, created_at, expires_at) "
        "SELECT 'tk' || n, 'event', (SELECT min(id) FROM survey_templates), now(), "
        "now() + interval '7 days' FROM generate_series(1, 20000) AS n"))
    session.execute(text(
        "INSERT INTO service_events (source, external_id, cadre_id, event_type, occurred_at, "
        "channels, content_hash, invitation_id, throttled, created_at) "
        "SELECT 'approval-system', 'E' || n, (SELECT min(id) FROM cadres), 'approval', now(), "
        "'qr', 'h', i.id, false, now() FROM generate_series(1, 20000) AS n "
        "JOIN invitations i ON i.token = 'tk' || n"))
    session.commit()
    items = [EventInput(source="approval-system", external_id=f"E{n}", cadre_code="C001",
                        event_type="approval", occurred_at=OCCURRED) for n in range(1, 1001)]
    compiled = existing_query(session, items).compile(dialect=db.engine.dialect)
    with driver(session).cursor() as cursor:
        cursor.execute("EXPLAIN " + str(compiled), compiled.params)
        plan = "\n".join(row[0] for row in cursor)
    assert "uq_service_events_source_external_id" in plan, plan
    assert "Seq Scan on service_events" not in plan, plan
