"""Shared fixtures: apps on SQLite and on the real PostgreSQL, clients, keys, services.

Under CI (CI=true) a missing PostgreSQL or Redis fails the test; locally it is skipped.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

IN_CI = os.environ.get("CI") == "true"
ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
TEST_KEYS = ["test-signing-key-new-0123456789abcdef", "test-signing-key-old-0123456789abcdef"]
SEAL_TEST_KEYS = ["test-seal-key-new-0123456789abcdef", "test-seal-key-old-0123456789abcdef"]


def pytest_collection_modifyitems(config, items) -> None:
    """Run the modules that hold slow tests first.

    Each process runs one module at a time (--dist loadfile): a long module drawn last keeps
    one process busy while the other has finished; drawn first, the short ones fill in.
    """
    slow = {item.nodeid.split("::")[0] for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.nodeid.split("::")[0] not in slow)  # stable


def missing(service: str, reason: str) -> None:
    """Fail under CI, skip elsewhere: a missing service never hides silently in CI."""
    message = f"{service} unavailable: {reason}"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


def postgres_url() -> str:
    """Return the PostgreSQL URL the tests use (CI points DATABASE_URL at a fresh database)."""
    url = os.environ.get("TEST_DATABASE_URL") or os.environ.get("DATABASE_URL") or DEFAULT_PG
    from backend.config import database_url

    return database_url({"DATABASE_URL": url}, "")


def redis_test_url() -> str:
    """Return the Redis URL for tests: database 9, or 15 for a second xdist worker.

    TEST_REDIS_URL overrides it. Tests that need a database of their own use fixed numbers
    of their module's (tests/support/redis_db.py); a module runs in one worker (--dist
    loadfile), so two workers never share one.
    """
    if url := os.environ.get("TEST_REDIS_URL"):
        return url
    number = 15 if os.environ.get("PYTEST_XDIST_WORKER", "gw0") != "gw0" else 9
    base = os.environ.get("REDIS_URL") or DEFAULT_REDIS
    root = base.rsplit("/", 1)[0] if base.count("/") >= 3 else base
    return f"{root}/{number}"


def check_postgres(url: str) -> None:
    """Skip or fail when PostgreSQL cannot be reached."""
    try:
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
    except Exception as exc:
        missing("PostgreSQL", str(exc).splitlines()[0])


def base_config(database_uri: str) -> dict:
    """Return the configuration every test app starts from."""
    return {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_uri,
        "REDIS_URL": None,
        "RATELIMIT_STORAGE_URI": "memory://",
        "RATELIMIT_PUBLIC": "100000/minute",
        "SECRET_KEYS": list(TEST_KEYS),
        "RATING_SEAL_KEYS": list(SEAL_TEST_KEYS),
        "PUBLIC_BASE_URL": "https://ssp.example.cn",
        "EMBEDDED_JOBS": "sync",
        "EMBEDDED_SCHEDULER": False,
        "ASSESSMENT_CORE_URL": None,
        "SMS_GATEWAY_URL": None,
    }


@contextlib.contextmanager
def private_postgres_database(prefix: str) -> Iterator[str]:
    """Create a database of our own on the test server; drop it afterwards.

    Each test session (and each racing or migration test) gets its own, so concurrent runs
    on one server never see each other's tables.
    """
    url = sa.engine.make_url(postgres_url())
    check_postgres(url.render_as_string(hide_password=False))
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        # A commit need not wait for its WAL flush: the tests' thousands of small
        # transactions would otherwise wait on the disk. Only a crash of the server itself
        # could lose the last ones, and no test crashes the server.
        conn.execute(sa.text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def database_uris(tmp_path_factory) -> dict[str, str]:
    """Return one database URI per backend (the PostgreSQL one is created on first use)."""
    return {"sqlite": "sqlite:///" + str(tmp_path_factory.mktemp("db") / "test.db")}


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def backend_name(request) -> str:
    """Parametrise database tests over SQLite and PostgreSQL."""
    return request.param


@pytest.fixture(scope="session")
def base_app(backend_name, database_uris):
    """Build one app per backend with a fresh schema."""
    from backend import create_app
    from backend.extensions import db

    with contextlib.ExitStack() as stack:
        uri = database_uris.get(backend_name) or stack.enter_context(
            private_postgres_database("ssp_test"))
        app = create_app(base_config(uri))
        with app.app_context():
            db.create_all()
        yield app
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def clear_tables(app) -> None:
    """Delete every row so each test starts empty."""
    from backend.extensions import db

    with app.app_context():
        tables = list(reversed(db.metadata.sorted_tables))
        with db.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                # TRUNCATE of every table costs some 170 ms (new files for each table and
                # index); deleting the few rows of the tables a test filled costs a few.
                probe = " UNION ALL ".join(
                    f"SELECT '{t.name}' WHERE EXISTS (SELECT 1 FROM \"{t.name}\")"  # noqa: S608
                    for t in tables)
                filled = set(conn.execute(sa.text(probe)).scalars())
                tables = [t for t in tables if t.name in filled]
            for table in tables:  # referencing tables first
                conn.execute(table.delete())
            if conn.dialect.name == "postgresql":  # ids start at 1 again, as on SQLite
                conn.execute(sa.text("SELECT setval(c.oid, 1, false) FROM pg_class AS c "
                                     "WHERE c.relkind = 'S'"))


@pytest.fixture
def app(base_app):
    """An app with empty tables and no rate-limit counts, on each backend in turn."""
    from backend.extensions import limiter
    from backend.services.reports.standing import forget_peers

    clear_tables(base_app)
    forget_peers()  # emptied tables reuse rating ids: a peer cache would outlive its data
    limiter.init_app(base_app)  # the one limiter serves the last app that bound it
    limiter.reset()
    base_app.extensions.pop("jobs", None)
    with base_app.app_context():
        yield base_app
    base_app.extensions.pop("jobs", None)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def session(app):
    from backend.extensions import db

    return db.session


@pytest.fixture
def make_key(app) -> Callable[..., dict[str, str]]:
    """Create an API client with the given scopes (and event sources, default its name).

    Returns its Authorization header.
    """
    from backend.extensions import db
    from backend.services.accounts.api_clients import create_client

    def make(*scopes: str, sources: tuple[str, ...] | list[str] = ()) -> dict[str, str]:
        # End the test's read transaction first: on SQLite (WAL) a snapshot older than a
        # job's commit cannot be upgraded to a write.
        db.session.commit()
        _, key = create_client(db.session, f"test-{uuid.uuid4().hex[:8]}", list(scopes),
                               sources)
        return {"Authorization": f"Bearer {key}"}

    return make


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """Return the test Redis URL after flushing its database; fail in CI when it is down."""
    import redis

    url = redis_test_url()
    try:
        connection = redis.Redis.from_url(url, socket_connect_timeout=2)
        connection.ping()
    except Exception as exc:
        missing("Redis", str(exc))
    connection.flushdb()
    yield url
    connection.flushdb()
    connection.close()


@pytest.fixture
def make_app(app):
    """Build extra apps on the same database with config overrides; dispose them after."""
    from backend import create_app
    from backend.extensions import db

    made = []

    def make(**overrides):
        extra = create_app({**app.config, **overrides})
        made.append(extra)
        return extra

    yield make
    for extra in made:
        with extra.app_context():
            db.session.remove()
            for engine in db.engines.values():
                engine.dispose()
