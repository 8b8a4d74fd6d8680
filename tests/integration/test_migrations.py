"""Migrations build exactly the models' schema, on SQLite and on PostgreSQL."""

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade

from backend import create_app
from backend.extensions import db
from tests.conftest import base_config, private_postgres_database


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request, tmp_path):
    """Yield the URL of a brand-new empty database."""
    if request.param == "sqlite":
        yield "sqlite:///" + str(tmp_path / "migrations.db")
        return
    with private_postgres_database("ssp_migrations") as url:
        yield url


def test_migrations_build_exactly_the_models_schema(empty_database):
    app = create_app(base_config(empty_database))
    with app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True,
                                                             "render_as_batch": True})
            differences = compare_metadata(context, db.metadata)
        db.engine.dispose()
    assert differences == []


def test_existing_api_clients_keep_posting_under_their_name(empty_database):
    app = create_app(base_config(empty_database))
    with app.app_context():
        upgrade(revision="0008")
        with db.engine.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO api_clients (name, key_id, key_hash, scopes, active, created_at) "
                "VALUES ('approval-system', 'k1', 'h', 'events:write', true, :now)"),
                {"now": datetime.now(UTC)})
        upgrade()
        with db.engine.connect() as conn:
            sources = conn.execute(sa.text("SELECT sources FROM api_clients")).scalar_one()
        db.engine.dispose()
    assert sources == "approval-system"
