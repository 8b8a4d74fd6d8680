"""Helpers shared by benchmarks: fresh PostgreSQL databases and apps on them."""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Callable, Iterator

import sqlalchemy as sa

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def admin_url() -> sa.engine.URL:
    """Return the URL of the maintenance database on the benchmark PostgreSQL server."""
    from backend.config import database_url

    url = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("DATABASE_URL") or DEFAULT_PG
    return sa.engine.make_url(database_url({"DATABASE_URL": url}, "")).set(database="postgres")


@contextlib.contextmanager
def fresh_database(prefix: str = "ssp_bench") -> Iterator[str]:
    """Create an empty PostgreSQL database for one benchmark and drop it afterwards."""
    admin = sa.create_engine(admin_url(), isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url().set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextlib.contextmanager
def bulk_load(conn, table: str) -> Iterator[None]:
    """Drop a table's foreign keys, unique constraints and secondary indexes, then restore them.

    `conn` is a connection or session inside a transaction; the primary key stays.

    Checking foreign keys and inserting into every B-tree row by row (above all a unique one
    keyed by random hashes, as tokens and receipts are) makes a load of millions of rows take
    many times longer than building the indexes afterwards in one sort each and validating
    the keys in one join. The table ends up exactly as declared.
    """
    saved = strip(conn, table)
    yield
    restore(conn, table, saved)


Saved = tuple[list, list]


def strip(conn, table: str) -> Saved:
    """Drop a table's foreign keys, unique constraints and secondary indexes; return them."""
    constraints = conn.execute(sa.text(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = CAST(:t AS regclass) AND contype IN ('f', 'u') ORDER BY conname"),
        {"t": table}).all()
    indexes = conn.execute(sa.text(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = :t AND indexname NOT IN "
        "(SELECT conname FROM pg_constraint WHERE conrelid = CAST(:t AS regclass)) "
        "ORDER BY indexname"), {"t": table}).all()
    for name, _ in constraints:
        conn.execute(sa.text(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"'))
    for name, _ in indexes:
        conn.execute(sa.text(f'DROP INDEX "{name}"'))
    return constraints, indexes


def restore(conn, table: str, saved: Saved) -> None:
    """Build what `strip` dropped again: indexes in one sort each, keys in one join each."""
    constraints, indexes = saved
    conn.execute(sa.text("SET LOCAL maintenance_work_mem = '1GB'"))
    for _, definition in indexes:
        conn.execute(sa.text(definition))
    for name, definition in constraints:
        conn.execute(sa.text(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'))


def bench_app(database_uri: str, **overrides):
    """Create an app on a benchmark database with the schema in place."""
    from backend import create_app
    from backend.extensions import db

    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_uri,
                      "REDIS_URL": None, "RATELIMIT_STORAGE_URI": "memory://",
                      "SECRET_KEYS": ["bench-signing-key-0123456789abcdef"],
                      "PUBLIC_BASE_URL": "https://ssp.example.cn", "EMBEDDED_JOBS": "sync",
                      "EMBEDDED_SCHEDULER": False, **overrides})
    with app.app_context():
        db.create_all()
    return app


def timed(action: Callable[[], object]) -> float:
    """Return the seconds one call takes."""
    started = time.perf_counter()
    action()
    return time.perf_counter() - started
