"""Personal data: encrypted at rest, looked up by keyed hash, shown masked.

Keys derive from SECRET_KEYS with HKDF, one per purpose, so that rotating SECRET_KEYS
rotates them too: the newest key encrypts, every listed key decrypts.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PHONE_PATTERN = re.compile(r"^1[3-9]\d{9}$")


def derive_key(secret: str, purpose: str) -> bytes:
    """Derive a 32-byte key for one purpose from a signing key."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"suishiping",
                info=purpose.encode()).derive(secret.encode())


def normalise_phone(phone: str) -> str | None:
    """Return a mainland mobile number as 11 digits, or None if it is not one."""
    digits = re.sub(r"[\s-]", "", phone or "")
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    return digits if PHONE_PATTERN.match(digits) else None


def mask_phone(phone: str) -> str:
    """Show a phone number as 138****8000."""
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 7 else "****"


class Vault:
    """Encrypt, decrypt and hash personal data with keys derived from SECRET_KEYS."""

    def __init__(self, secret_keys: Sequence[str]) -> None:
        self.fernet = MultiFernet([
            Fernet(base64.urlsafe_b64encode(derive_key(k, "personal-data"))) for k in secret_keys])
        self.lookup_key = derive_key(secret_keys[0], "lookup-hash")

    def encrypt(self, value: str) -> str:
        """Encrypt a value with the newest key."""
        return self.fernet.encrypt(value.encode()).decode()

    def decrypt(self, token: str) -> str | None:
        """Decrypt a value; None when no current key opens it."""
        try:
            return self.fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            return None

    def lookup_hash(self, kind: str, value: str) -> str:
        """Return a keyed hash for equality lookups (throttling, de-duplication)."""
        digest = hmac.new(self.lookup_key, f"{kind}:{value}".encode(), hashlib.sha256)
        return digest.hexdigest()
