"""Fixtures of the console tests: the county of tests/console/world.py and signed-in clients."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.console.world import USERS, World, build_world, https_client, sign_in


@pytest.fixture
def world(app) -> World:
    """Return the ids of a freshly built county."""
    return build_world(datetime.now(UTC))


@pytest.fixture
def signed_in(app, world):
    """Return a factory of test clients signed in as a role's user."""
    def make(role: str):
        client = https_client(app)
        response = sign_in(client, USERS.get(role, role))
        assert response.status_code == 302, response.get_data(as_text=True)
        return client

    return make
