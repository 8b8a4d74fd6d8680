"""Invitation tokens: random bits in the database, carried signed so forgeries die early.

A token is 120 random bits (20 URL-safe characters) stored in the invitation row, which
alone decides validity and single use. Links carry `<token>.<signature>` (itsdangerous,
HMAC-SHA1, salt "invitation-url"); the mini-program scene carries `<token>.<8 characters of
an HMAC>` (salt "mp-scene") so that it fits WeChat's 32-character limit. Both verify against
every key in SECRET_KEYS, newest first, so keys rotate without breaking issued links.

A link has one spelling: the signature must be exactly the one a key produces, character for
character. Base64 padding (`=`), a changed letter case or a different last character that
decodes to the same bytes are other spellings, and other spellings are forgeries (404).
"""

from __future__ import annotations

import base64
import hmac
import secrets
from collections.abc import Sequence

from itsdangerous import Signer

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
        # The keys itsdangerous derives for each key and salt, derived once: scenes and
        # verifying compute the signatures its Signer would (HMAC-SHA1, unpadded URL-safe
        # base64) without deriving again, newest key first.
        self.url_keys = [Signer(key, salt=URL_SALT).derive_key() for key in secret_keys]
        self.scene_keys = [Signer(key, salt=SCENE_SALT).derive_key() for key in secret_keys]

    def url_token(self, token: str) -> str:
        """Return the signed form carried in /r/<url_token>."""
        return self.url_signer.sign(token).decode()

    def scene(self, token: str) -> str:
        """Return the compact mini-program scene (at most 32 characters)."""
        mac = signature_of(self.scene_keys[0], token)[:SCENE_MAC_LENGTH]
        return f"{token}.{mac}"

    def verify(self, presented: str) -> str | None:
        """Return the raw token of a signed link token or scene, or None if it is forged."""
        token, sep, signature = presented.partition(".")
        if not sep or len(token) != TOKEN_LENGTH or not set(token) <= TOKEN_ALPHABET \
                or not set(signature) <= TOKEN_ALPHABET:
            return None
        if len(signature) == SCENE_MAC_LENGTH:
            expected = (signature_of(key, token)[:SCENE_MAC_LENGTH] for key in self.scene_keys)
        else:
            expected = (signature_of(key, token) for key in self.url_keys)
        return token if any(hmac.compare_digest(e, signature) for e in expected) else None


def signature_of(derived_key: bytes, token: str) -> str:
    """Return the signature itsdangerous's Signer gives `token` under its derived key."""
    mac = hmac.digest(derived_key, token.encode(), "sha1")
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
