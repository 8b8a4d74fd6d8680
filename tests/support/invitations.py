"""Helpers that issue invitations through the real ingestion service."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app

from backend.extensions import db
from backend.services.demo.seed import seed
from backend.services.invitations.events import EventInput, IngestContext, Result
from backend.services.invitations.ingestion import ingest_events
from backend.wiring import sealer, token_codec, vault


def issue(count: int = 1, cadre_code: str = "C001", prefix: str = "T",
          phone: str | None = None) -> list[dict]:
    """Seed the demo directory (idempotent) and return `count` invitation bodies."""
    seed(db.session)
    ctx = IngestContext(codec=token_codec(), vault=vault(),
                        catalogue=current_app.extensions["catalogue"],
                        base_url=current_app.config["PUBLIC_BASE_URL"],
                        tz=ZoneInfo("Asia/Shanghai"), now=datetime.now(UTC),
                        sealer=sealer())
    occurred = datetime.now(UTC) - timedelta(minutes=30)
    items = [EventInput("test", f"{prefix}-{n}", cadre_code, "approval", occurred,
                        phone=phone, channels=("qr",)) for n in range(count)]
    outcomes, _ = ingest_events(db.session, ctx, items)
    assert {o.result for o in outcomes} == {Result.CREATED}
    return [o.body["invitation"] for o in outcomes]
