"""Headers of every answer: isolation, permissions, HSTS under https, nothing private cached."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.console.world import USERS, build_world, https_client, sign_in
from tests.support.invitations import issue

ISOLATION = {"Permissions-Policy": "camera=()", "Cross-Origin-Opener-Policy": "same-origin",
             "Cross-Origin-Resource-Policy": "same-origin"}


def paths(token: str) -> list[str]:
    return ["/console/login", f"/r/{token}", "/api/v1/templates", "/api/openapi.json",
            "/api/docs", "/healthz", "/static/rating.css", "/receipt/" + "0" * 32]


def test_every_answer_carries_permissions_and_cross_origin_policies(client, app):
    token = issue(1)[0]["token"]
    for path in paths(token):
        with client.get(path) as response:
            headers = response.headers
        for name, expected in ISOLATION.items():
            assert expected in headers.get(name, ""), (path, name)


def test_qr_images_may_be_embedded_by_other_sites(client, app):
    token = issue(1)[0]["token"]
    for image in ("qr.svg", "qr.png"):
        response = client.get(f"/r/{token}/{image}")
        assert response.headers["Cross-Origin-Resource-Policy"] == "cross-origin"


def test_hsts_is_sent_when_the_public_base_url_is_https(make_app):
    secure = make_app(PUBLIC_BASE_URL="https://ssp.example.cn").test_client()
    plain = make_app(PUBLIC_BASE_URL="http://127.0.0.1:5000").test_client()
    assert secure.get("/healthz").headers["Strict-Transport-Security"] == "max-age=31536000"
    assert "Strict-Transport-Security" not in plain.get("/healthz").headers


def test_every_console_page_is_no_store(app):


    world = build_world(datetime.now(UTC))
    client = https_client(app)
    assert client.get("/console/login").headers["Cache-Control"] == "no-store"
    assert sign_in(client, USERS["org_admin"]).headers["Cache-Control"] == "no-store"
    for path in ("/console/", "/console/api/overview", f"/console/units/{world.units['XZ100']}",
                 "/console/units/export.csv", "/console/no-such-page"):
        assert client.get(path).headers["Cache-Control"] == "no-store", path


@pytest.mark.parametrize("path", ["/api/v1/templates", "/api/v1/campaigns",
                                  "/api/v1/scores?period=2026-11", "/api/v1/push/outbox"])
def test_every_answer_to_a_request_with_credentials_is_no_store(client, make_key, path):
    response = client.get(path, headers=make_key("campaigns:write", "scores:read",
                                                 "scores:publish"))
    assert response.status_code < 500
    assert response.headers["Cache-Control"] == "no-store"


def test_public_answers_without_credentials_may_be_cached(client, app):
    assert "Cache-Control" not in client.get("/api/v1/templates").headers
