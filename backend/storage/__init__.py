"""The one place that knows the database engine.

The portable paths (SQLite, used by the embedded demo) and the PostgreSQL fast paths (COPY,
CTE submission, pivots, SKIP LOCKED, advisory locks) sit side by side here; psycopg is
imported only in this package, and only where PostgreSQL is in use.
"""

from __future__ import annotations

from backend.storage.engine import (
    advisory_lock,
    engine_kind,
    on_postgres,
    try_advisory_lock,
    upsert_insert,
)

__all__ = ["advisory_lock", "engine_kind", "on_postgres", "try_advisory_lock", "upsert_insert"]
