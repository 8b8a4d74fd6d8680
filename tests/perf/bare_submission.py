"""The baselines of the submission benchmark: only the SQL of a submission.

POST /bare/<token> runs exactly the statements the real submission runs on PostgreSQL, taken
from backend/services/rating_store_pg.py so they cannot drift: the read of the invitation
with its use (by use tag), then the one-statement write (the use tag, the sealed rating into
the pending buffer, the first-opening tag and sealed opening), both in autocommit mode on a
per-thread psycopg connection, and answers 201 or 409. The tags and sealed values are
precomputed stand-ins of the real sizes (a hash of the token, random bytes): no keys, no
encryption, no validation. `flask_app` does it in an empty Flask view (the target's baseline:
the framework the product is built on); `app` is the same as a bare WSGI callable, with no
framework at all (for reference).
"""

from __future__ import annotations

import base64
import hashlib
import os
import threading
from datetime import UTC, datetime

import psycopg
from flask import Flask, request

from backend.storage.rating_store_pg import (
    POSTGRESQL_WRITE,
    PRESENTED_PG,
    SESSION_OPTIONS,
    compiled,
)

_local = threading.local()
READ, WRITE = compiled(PRESENTED_PG), compiled(POSTGRESQL_WRITE)
# What the real payloads seal to: "s1.<key id>.<base64 of nonce + JSON + tag>".
SEALED_RATING = "s1.abcd." + base64.urlsafe_b64encode(os.urandom(600)).decode()
SEALED_OPENING = "s1.abcd." + base64.urlsafe_b64encode(os.urandom(114)).decode()


def connection() -> psycopg.Connection:
    """Return this thread's connection, in autocommit mode and set up as the real store's."""
    if getattr(_local, "conn", None) is None:
        _local.conn = psycopg.connect(os.environ["BARE_DSN"], autocommit=True,
                                      options=SESSION_OPTIONS)
    return _local.conn


def consume_and_insert(token: str) -> bool:
    """Read the invitation and its use, then write the use and the pending rating.

    False if the link is unknown, used or closed.
    """
    conn = connection()
    use_tag = hashlib.sha256(f"use:{token}".encode()).hexdigest()
    row = conn.execute(READ, {"token": token, "tags": [use_tag]}).fetchone()
    if row is None or row[-1]:  # unknown or used
        return False
    now = datetime.now(UTC)
    open_tag = hashlib.sha256(f"open:{token}".encode()).hexdigest()
    params = {"invitation_id": row[0], "now": now, "day": now.date(), "use_tag": use_tag,
              "use_tags": [use_tag], "open_tag": open_tag, "open_tags": [open_tag],
              "receipt_hash": hashlib.sha256(os.urandom(16)).hexdigest(),
              "sealed": SEALED_RATING, "open_sealed": SEALED_OPENING}
    try:
        written = conn.execute(WRITE, params).fetchone()
    except psycopg.IntegrityError:
        return False
    return written[0] == 1


def app(environ, start_response):
    """Read and write as the submission does; nothing else."""
    token = environ["PATH_INFO"].rsplit("/", 1)[-1]
    environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    row = consume_and_insert(token)
    status = "201 Created" if row else "409 Conflict"
    start_response(status, [("Content-Type", "application/json")])
    return [b'{"receipt": "x"}' if row else b'{"status": "used"}']


flask_app = Flask(__name__)


@flask_app.post("/bare/<token>")
def bare(token: str):
    """The same SQL in an empty Flask view (which reads the body, as every endpoint does)."""
    request.get_data()
    if consume_and_insert(token):
        return {"receipt": "x"}, 201
    return {"status": "used"}, 409
