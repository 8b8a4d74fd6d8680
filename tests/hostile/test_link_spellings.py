"""One spelling per link: any other spelling of a signed token or scene is a forgery (404)."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from backend.wiring import token_codec
from tests.support.invitations import issue

B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def spellings(signed: str) -> list[str]:
    """Return other spellings of a signed token that a lenient decoder would accept."""
    token, _, signature = signed.partition(".")
    first_letter = next(i for i, c in enumerate(signature) if c.isalpha())
    recased = (signature[:first_letter] + signature[first_letter].swapcase()
               + signature[first_letter + 1:])
    last = B64.index(signature[-1])  # a URL signature's last character has 2 spare bits
    twin = next(c for c in B64 if c != signature[-1] and B64.index(c) >> 2 == last >> 2)
    others = [signed + "=", signed + "==", signed + "===", f"{token}.{recased}",
              f"{token}.{signature.swapcase()}", f"{token.swapcase()}.{signature}",
              f"{token}.{signature[:-1]}{twin}", f"{token}..{signature}",
              f"{token}.{signature[:-1]}é", f"{token}.{signature}.", f"{token}.{signature} "]
    assert signed not in others
    return others


@pytest.fixture
def links(app):
    (invitation,) = issue(1)
    return invitation


def urls(presented: str) -> list[tuple[str, str]]:
    """Return every public (method, URL) that takes a token."""
    token = quote(presented, safe="")
    return [("GET", f"/api/v1/invitations/{token}"), ("GET", f"/r/{token}"),
            ("GET", f"/r/{token}/qr.svg"), ("GET", f"/r/{token}/qr.png"),
            ("POST", f"/api/v1/invitations/{token}/rating")]


@pytest.mark.parametrize("kind", ["token", "mp_scene"])
def test_any_other_spelling_of_a_link_is_404_and_the_link_stays_open(client, links, kind):
    presented = links[kind]
    assert client.get(f"/api/v1/invitations/{presented}").status_code == 200
    for other in spellings(presented):
        for method, url in urls(other):
            response = client.open(url, method=method, json={"score": 9})
            assert response.status_code == 404, (other, url, response.status_code)
    assert client.post(f"/api/v1/invitations/{presented}/rating", json={"score": 9}
                       ).status_code == 201


def test_a_signature_with_the_same_bytes_but_another_last_character_is_refused(app, links):
    token, _, signature = links["token"].partition(".")
    assert token_codec(app).verify(links["token"]) == links["token"].partition(".")[0]
    last = B64.index(signature[-1])
    twins = [c for c in B64 if c != signature[-1] and B64.index(c) >> 2 == last >> 2]
    assert len(twins) == 3
    assert all(token_codec(app).verify(f"{token}.{signature[:-1]}{c}") is None for c in twins)
