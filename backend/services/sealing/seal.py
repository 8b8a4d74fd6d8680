"""The keys that keep ratings unlinkable and unforgeable, none of them stored in the database.

Every key here derives (HKDF, one purpose each) from RATING_SEAL_KEYS, newest first:
- seal: AES-256-GCM over pending ratings and openings, with a random nonce and no time in
  clear (Fernet would carry its creation time), so a sealed row tells nothing but its size;
- mac: HMAC-SHA256 over each stored rating's content, so a rating written or edited by hand
  fails `ledger verify`;
- use and open tags: HMAC of an invitation's token, so the set of used (or opened) links names
  no invitation to whoever reads the database, while the application can still ask whether
  a given invitation was used;
- signal keys: HMACs of a client's address, agent and mini-program openid for the fraud
  detectors, unrelated to the keyed hashes the invitations and sessions carry (those derive
  from SECRET_KEYS), so no join leads from a rating's signals to a recipient.
The newest key seals, MACs and tags; every listed key still opens, verifies and finds.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from backend.services.privacy.personal_data import derive_key

SEAL_VERSION = "s1"
NONCE_BYTES = 12


class SealError(ValueError):
    """A sealed value that no configured key opens, or that was altered."""


# One encoder for every call: json.dumps with options builds a new one each time, which
# costs as much as the encoding of a rating (`ledger verify` encodes millions).
_CANONICAL = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"),
                              default=str)


def canonical(value: Any) -> bytes:
    """Return the canonical JSON bytes of a value (sorted keys, no spaces, UTF-8)."""
    return _CANONICAL.encode(value).encode()


def sealed_json(value: Mapping[str, Any]) -> bytes:
    """Return a payload's JSON bytes to seal: keys sorted, no spaces, UTF-8 (orjson's).

    What is sealed is only ever opened and decoded, never compared byte for byte (MACs are
    of `canonical`), so the faster encoder serves; a tenth of `canonical`'s time.
    """
    return orjson.dumps(value, default=str,
                        option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)


class KeyRing:
    """One purpose's keys, newest first, each with a short id that names it in stored values."""

    def __init__(self, secrets: Sequence[str], purpose: str) -> None:
        self.keys = [derive_key(secret, f"rating-{purpose}") for secret in secrets]
        self.ids = [hashlib.sha256(key).hexdigest()[:4] for key in self.keys]

    def by_id(self, key_id: str) -> bytes | None:
        """Return the key a stored value names, if it is still configured."""
        for known, key in zip(self.ids, self.keys, strict=True):
            if known == key_id:
                return key
        return None


def ciphers(ring: KeyRing) -> dict[str, AESGCM]:
    """Return an AES-GCM cipher per key, by key id: stateless between calls, so one per key
    serves every thread."""
    return {key_id: AESGCM(key) for key_id, key in zip(ring.ids, ring.keys, strict=True)}


class Sealer:
    """Seal and open pending items, MAC ratings, tag invitations, key client signals."""

    def __init__(self, secrets: Sequence[str]) -> None:
        if not secrets:
            raise ValueError("RATING_SEAL_KEYS needs at least one key")
        self.seal_keys = KeyRing(secrets, "seal")
        self.ciphers = ciphers(self.seal_keys)
        self.mac_keys = KeyRing(secrets, "mac")
        self.tag_keys = KeyRing(secrets, "tag")
        self.signal_key = derive_key(secrets[0], "rating-signal")

    def __getstate__(self) -> dict[str, Any]:
        """Pickle the keys, not the ciphers (to a worker process; they are rebuilt there)."""
        return {name: value for name, value in vars(self).items() if name != "ciphers"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        vars(self).update(state)
        self.ciphers = ciphers(self.seal_keys)

    def seal(self, payload: Mapping[str, Any]) -> str:
        """Encrypt a payload with the newest key: "s1.<key id>.<nonce + ciphertext>"."""
        nonce, key_id = os.urandom(NONCE_BYTES), self.seal_keys.ids[0]
        body = self.ciphers[key_id].encrypt(nonce, sealed_json(payload), None)
        encoded = base64.urlsafe_b64encode(nonce + body).decode()
        return f"{SEAL_VERSION}.{key_id}.{encoded}"

    def open(self, sealed: str) -> dict[str, Any]:
        """Decrypt a sealed payload; SealError when no key opens it or it was altered."""
        version, _, rest = sealed.partition(".")
        key_id, _, encoded = rest.partition(".")
        cipher = self.ciphers.get(key_id)
        if version != SEAL_VERSION or cipher is None:
            raise SealError("密封数据的密钥不在 RATING_SEAL_KEYS 中")
        try:
            raw = base64.urlsafe_b64decode(encoded)
            plain = cipher.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], None)
        except (InvalidTag, ValueError) as exc:
            raise SealError("密封数据被改动或已损坏") from exc
        return json.loads(plain)

    def mac(self, content: Mapping[str, Any]) -> str:
        """Return "<key id>:<HMAC-SHA256>" of a rating's canonical content (newest key)."""
        digest = hmac.digest(self.mac_keys.keys[0], canonical(content), "sha256")
        return f"{self.mac_keys.ids[0]}:{digest.hex()}"

    def mac_ok(self, content: Mapping[str, Any], stored: str | None) -> bool:
        """Tell whether a stored MAC matches the content under any configured key."""
        key_id, _, digest = (stored or "").partition(":")
        key = self.mac_keys.by_id(key_id)
        if key is None:
            return False
        expected = hmac.digest(key, canonical(content), "sha256").hex()
        return hmac.compare_digest(expected, digest)

    def tags(self, kind: str, token: str) -> list[str]:
        """Return an invitation's use or open tags under every key, the newest first."""
        message = f"{kind}:{token}".encode()
        return [hmac.digest(key, message, "sha256").hex() for key in self.tag_keys.keys]

    def signal(self, kind: str, value: str | None) -> str | None:
        """Return the keyed hash of a client signal (address, agent, openid) for fraud review."""
        if not value:
            return None
        return hmac.digest(self.signal_key, f"{kind}:{value}".encode(), "sha256").hex()
