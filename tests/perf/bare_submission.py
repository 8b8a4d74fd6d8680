"""The baselines of the submission benchmark: only the SQL of a submission.

POST /bare/<token> runs the consume UPDATE ... RETURNING and the rating INSERT in one
transaction on a per-thread psycopg connection, and answers 201 or 409. `flask_app` does it
in an empty Flask view (the target's baseline: the framework the product is built on);
`app` is the same as a bare WSGI callable, with no framework at all (for reference).
"""

from __future__ import annotations

import os
import threading

import psycopg
from flask import Flask

_local = threading.local()
CONSUME = ("UPDATE invitations SET used_at = date_trunc('hour', now()) WHERE token = %s "
           "AND used_at IS NULL AND revoked_at IS NULL AND expires_at > now() "
           "RETURNING id, cadre_id, template_id")
INSERT = ("INSERT INTO ratings (cadre_id, rater_group, score, tags, template_id, "
          "submitted_hour, month, receipt_hash, status) VALUES (%s, 'recipient', 8, "
          "'[]', %s, date_trunc('hour', now()), to_char(now(), 'YYYY-MM'), "
          "md5(random()::text), 'valid')")


def connection() -> psycopg.Connection:
    """Return this thread's connection."""
    if getattr(_local, "conn", None) is None:
        _local.conn = psycopg.connect(os.environ["BARE_DSN"])
    return _local.conn


def consume_and_insert(token: str) -> bool:
    """Consume the token and insert the rating in one transaction; False if already used."""
    conn = connection()
    with conn.transaction():
        row = conn.execute(CONSUME, (token,)).fetchone()
        if row is not None:
            conn.execute(INSERT, (row[1], row[2]))
    return row is not None


def app(environ, start_response):
    """Consume the token and insert the rating; nothing else."""
    token = environ["PATH_INFO"].rsplit("/", 1)[-1]
    environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    row = consume_and_insert(token)
    status = "201 Created" if row else "409 Conflict"
    start_response(status, [("Content-Type", "application/json")])
    return [b'{"receipt": "x"}' if row else b'{"status": "used"}']


flask_app = Flask(__name__)


@flask_app.post("/bare/<token>")
def bare(token: str):
    """The same SQL in an empty Flask view."""
    if consume_and_insert(token):
        return {"receipt": "x"}, 201
    return {"status": "used"}, 409
