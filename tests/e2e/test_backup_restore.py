"""The runbook's backup and restore: a pg_dump restored into a fresh database verifies."""

import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade

from backend import create_app
from backend.extensions import db
from backend.services.ledger.chain import checkpoint_days
from tests.conftest import IN_CI, base_config, private_postgres_database
from tests.support.invitations import issue
from tests.support.release import release_all

ROOT = Path(__file__).resolve().parents[2]
TZ = ZoneInfo("Asia/Shanghai")


def libpq(url: str) -> str:
    """Return a SQLAlchemy URL in the form pg_dump and pg_restore accept."""
    return sa.engine.make_url(url).set(drivername="postgresql").render_as_string(
        hide_password=False)


def ledger_verify(url: str) -> subprocess.CompletedProcess:
    """Run the operator's command against a database."""
    config = base_config(url)
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEYS": config["SECRET_KEYS"][0],
           "RATING_SEAL_KEYS": ",".join(config["RATING_SEAL_KEYS"]), "REDIS_URL": ""}
    return subprocess.run([sys.executable, "-m", "flask", "--app", "backend", "ledger", "verify"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def fill(url: str) -> None:
    """Migrate, rate, release and checkpoint a database as production would."""
    app = create_app(base_config(url))
    with app.app_context():
        upgrade()
        client = app.test_client()
        for invitation in issue(6):
            client.post(f"/api/v1/invitations/{invitation['token']}/rating", json={"score": 9})
        now = datetime.now(UTC)
        release_all()
        checkpoint_days(db.session, now + timedelta(days=2), TZ)
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


def test_a_dump_restored_into_a_fresh_database_passes_ledger_verify(tmp_path):
    if shutil.which("pg_dump") is None:
        if IN_CI:
            pytest.fail("pg_dump is missing")
        pytest.skip("pg_dump is missing")
    dump = tmp_path / "ssp.dump"
    with private_postgres_database("ssp_backup") as source:
        fill(source)
        assert ledger_verify(source).returncode == 0
        subprocess.run(["pg_dump", "-Fc", "-d", libpq(source), "-f", str(dump)], check=True,
                       timeout=120)
    with private_postgres_database("ssp_restore") as target:
        subprocess.run(["pg_restore", "--no-owner", "-d", libpq(target), str(dump)], check=True,
                       timeout=120)
        restored = ledger_verify(target)
        assert restored.returncode == 0, restored.stdout + restored.stderr
        engine = sa.create_engine(target)
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM ledger_entries")).scalar() == 6
        engine.dispose()
