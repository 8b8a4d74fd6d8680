"""Link and scene tokens verify exactly as itsdangerous's Signer signs them, under every key."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from itsdangerous import Signer

from backend.services.invitations.tokens import SCENE_MAC_LENGTH, TokenCodec

KEYS = ["token-key-new-0123456789abcdef", "token-key-old-0123456789abcdef"]
TOKENS = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
                 min_size=20, max_size=20)


@given(TOKENS, st.sampled_from(KEYS))
def test_a_signers_link_and_scene_verify_under_any_configured_key(token, key):
    codec = TokenCodec(KEYS)
    link = Signer(key, salt="invitation-url").sign(token).decode()
    mac = Signer(key, salt="mp-scene").get_signature(token).decode()[:SCENE_MAC_LENGTH]
    assert codec.verify(link) == token
    assert codec.verify(f"{token}.{mac}") == token
    assert codec.verify(codec.url_token(token)) == token
    if key == KEYS[0]:  # scenes are signed with the newest key
        assert codec.scene(token) == f"{token}.{mac}"


@given(TOKENS)
def test_a_signature_under_another_key_or_changed_is_forged(token):
    codec = TokenCodec(KEYS)
    stranger = Signer("token-key-stranger-0123456789abc", salt="invitation-url")
    assert codec.verify(stranger.sign(token).decode()) is None
    signed = codec.url_token(token)
    flipped = signed[:-1] + ("A" if signed[-1] != "A" else "B")
    assert codec.verify(flipped) is None
    assert codec.verify(signed + "=") is None
