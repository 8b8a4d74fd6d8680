"""Key rotation end to end over HTTP: add a key, keep old links working, then retire it."""

from __future__ import annotations

from backend.services.invitations.tokens import TokenCodec
from tests.support.invitations import issue

OLD = "rotation-key-old-0123456789abcdef0123"
NEW = "rotation-key-new-0123456789abcdef0123"


def issued(app, prefix: str, count: int = 1) -> list[dict]:
    """Issue invitations through an app configured with its own keys."""
    with app.app_context():
        return issue(count, prefix=prefix)


def rate(client, token: str):
    return client.post(f"/api/v1/invitations/{token}/rating", json={"score": 8})


def test_a_new_key_signs_new_links_while_old_links_work_until_the_old_key_goes(make_app):
    before = make_app(SECRET_KEYS=[OLD])
    old_one, old_two, old_three = issued(before, "OLD", 3)
    assert TokenCodec([OLD]).verify(old_one["token"]) is not None

    both = make_app(SECRET_KEYS=[NEW, OLD])
    (fresh,) = issued(both, "MID")
    assert TokenCodec([NEW]).verify(fresh["token"]) is not None
    assert TokenCodec([OLD]).verify(fresh["token"]) is None  # signed with the new key only
    assert TokenCodec([OLD]).verify(fresh["mp_scene"]) is None
    client = both.test_client()
    assert client.get(f"/api/v1/invitations/{old_one['token']}").status_code == 200
    assert client.get(f"/api/v1/invitations/{old_two['mp_scene']}").status_code == 200
    assert rate(client, old_one["token"]).status_code == 201

    after = make_app(SECRET_KEYS=[NEW])
    client = after.test_client()
    for presented in (old_two["token"], old_two["mp_scene"], old_three["token"]):
        refused = client.get(f"/api/v1/invitations/{presented}")
        assert refused.status_code == 404 and refused.json["code"] == 404
        assert rate(client, presented).status_code == 404  # unknown: nothing consumed
    assert client.get(f"/api/v1/invitations/{fresh['token']}").status_code == 200
    assert rate(client, fresh["token"]).status_code == 201
    assert rate(client, fresh["token"]).status_code == 409
