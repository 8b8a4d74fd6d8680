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
