"""Invitation tokens: random bits in the database, carried signed so forgeries die early.

A token is 120 random bits (20 URL-safe characters) stored in the invitation row, which
alone decides validity and single use. Links carry `<token>.<signature>` (itsdangerous,
HMAC-SHA1, salt "invitation-url"); the mini-program scene carries `<token>.<8 characters of
an HMAC>` (salt "mp-scene") so that it fits WeChat's 32-character limit. Both verify against
every key in SECRET_KEYS, newest first, so keys rotate without breaking issued links.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Sequence

from itsdangerous import BadSignature, Signer

TOKEN_BYTES = 15
TOKEN_LENGTH = 20
SCENE_MAC_LENGTH = 8
URL_SALT = "invitation-url"
SCENE_SALT = "mp-scene"
TOKEN_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def new_token() -> str:
    """Return a fresh random token (120 bits)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


class TokenCodec:
    """Sign tokens for links and scenes, and verify them without touching the database."""

    def __init__(self, secret_keys: Sequence[str]) -> None:
        if not secret_keys:
            raise ValueError("at least one signing key is needed")
        # itsdangerous signs with the last key and verifies with all of them.
        ordered = list(reversed(secret_keys))
        self.url_signer = Signer(ordered, salt=URL_SALT)
        self.scene_signers = [Signer(key, salt=SCENE_SALT) for key in secret_keys]

    def url_token(self, token: str) -> str:
        """Return the signed form carried in /r/<url_token>."""
        return self.url_signer.sign(token).decode()

    def scene(self, token: str) -> str:
        """Return the compact mini-program scene (at most 32 characters)."""
        mac = self.scene_signers[0].get_signature(token).decode()[:SCENE_MAC_LENGTH]
        return f"{token}.{mac}"

    def verify(self, presented: str) -> str | None:
        """Return the raw token of a signed link token or scene, or None if it is forged."""
        token, sep, signature = presented.partition(".")
        if not sep or len(token) != TOKEN_LENGTH or not set(token) <= TOKEN_ALPHABET:
            return None
        if len(signature) == SCENE_MAC_LENGTH:
            return token if self._scene_ok(token, signature) else None
        try:
            return self.url_signer.unsign(presented).decode()
        except BadSignature:
            return None

    def _scene_ok(self, token: str, mac: str) -> bool:
        for signer in self.scene_signers:
            expected = signer.get_signature(token).decode()[:SCENE_MAC_LENGTH]
            if hmac.compare_digest(expected, mac):
                return True
        return False
