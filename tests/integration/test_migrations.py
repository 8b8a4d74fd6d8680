"""Migrations build exactly the models' schema, on SQLite and on PostgreSQL."""

import uuid

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade

from backend import create_app
from backend.extensions import db
from tests.conftest import base_config, check_postgres, postgres_url


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request, tmp_path):
    """Yield the URL of a brand-new empty database."""
    if request.param == "sqlite":
        yield "sqlite:///" + str(tmp_path / "migrations.db")
        return
    url = sa.engine.make_url(postgres_url())
    check_postgres(url.render_as_string(hide_password=False))
    name = f"ssp_migrations_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


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
