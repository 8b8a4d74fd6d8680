"""Operator commands: API clients, console users, demo seed."""

from sqlalchemy import func, select

from backend.models import ApiClient, Cadre, ConsoleUser, Unit
from backend.services.demo.seed import seed


def test_api_client_create_prints_a_working_key_last(app, runner, client):
    result = runner.invoke(args=["api-client", "create", "approval-system",
                                 "--scopes", "directory:write,events:write"])
    assert result.exit_code == 0, result.output
    key = result.output.strip().splitlines()[-1]
    response = client.put("/api/v1/units/U1", json={"name": "甲", "category": "township"},
                          headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 201


def test_api_client_key_is_stored_only_hashed(app, runner, session):
    result = runner.invoke(args=["api-client", "create", "core", "--scopes", "scores:read"])
    key = result.output.strip().splitlines()[-1]
    stored = session.scalar(select(ApiClient).where(ApiClient.name == "core"))
    assert key.split("_")[-1] not in stored.key_hash
    assert stored.scope_set == {"scores:read"}


def test_api_client_with_unknown_scope_is_refused(app, runner):
    result = runner.invoke(args=["api-client", "create", "x", "--scopes", "everything"])
    assert result.exit_code == 1
    assert "everything" in result.output


def test_api_client_posts_events_under_its_name_unless_sources_are_given(app, runner, session):
    named = runner.invoke(args=["api-client", "create", "approval-system", "--scopes",
                                "events:write"])
    listed = runner.invoke(args=["api-client", "create", "hall", "--scopes", "events:write",
                                 "--source", "hall-tablet", "--source", "hall-kiosk"])
    assert named.exit_code == listed.exit_code == 0, named.output + listed.output
    assert "hall-kiosk、hall-tablet" in listed.output
    sources = dict(session.execute(select(ApiClient.name, ApiClient.sources)).all())
    assert sources == {"approval-system": "approval-system", "hall": "hall-kiosk,hall-tablet"}


def test_api_client_needs_a_valid_source(app, runner, session):
    unnamed = runner.invoke(args=["api-client", "create", "审批系统", "--scopes", "events:write"])
    assert unnamed.exit_code == 1 and "--source" in unnamed.output
    bad = runner.invoke(args=["api-client", "create", "x", "--scopes", "events:write",
                              "--source", "no spaces"])
    assert bad.exit_code == 1 and "no spaces" in bad.output
    made = runner.invoke(args=["api-client", "create", "审批系统", "--scopes", "events:write",
                               "--source", "approval-system"])
    assert made.exit_code == 0, made.output
    assert session.scalar(select(func.count()).select_from(ApiClient)) == 1


def test_admin_create_needs_a_unit_for_unit_admins(app, runner, session):
    refused = runner.invoke(args=["admin", "create", "li", "--role", "unit_admin"])
    assert refused.exit_code == 1
    seed(session)  # the demo directory (the whole demo county is tests/integration/test_demo.py's)
    made = runner.invoke(args=["admin", "create", "li", "--role", "unit_admin", "--unit", "XZ100"])
    assert made.exit_code == 0, made.output
    user = session.scalar(select(ConsoleUser).where(ConsoleUser.username == "li"))
    password = made.output.strip().splitlines()[-1]
    assert user.unit.code == "XZ100" and password not in user.password_hash


def test_demo_directory_seed_is_idempotent(app, session):
    assert seed(session) == ("admin", "demo-admin-2026")
    counts = [session.scalar(select(func.count()).select_from(m)) for m in (Unit, Cadre)]
    seed(session)
    assert counts == [session.scalar(select(func.count()).select_from(m)) for m in (Unit, Cadre)]
    assert counts[0] >= 8 and counts[1] >= 40
    categories = set(session.scalars(select(Unit.category)))
    assert len(categories) >= 3
