"""A racer process for the exactly-once test: rates every token, counts its successes."""

from __future__ import annotations

import random


def race(database_uri: str, config: dict, tokens: list[str], barrier, seed: int) -> dict:
    """Submit a rating for every token in a shuffled order; return status counts."""
    from backend import create_app
    from backend.extensions import db

    app = create_app({**config, "SQLALCHEMY_DATABASE_URI": database_uri})
    client = app.test_client()
    order = list(tokens)
    random.Random(seed).shuffle(order)
    barrier.wait()
    statuses: dict[int, int] = {}
    for token in order:
        status = client.post(f"/api/v1/invitations/{token}/rating", json={"score": 8}).status_code
        statuses[status] = statuses.get(status, 0) + 1
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    return statuses
