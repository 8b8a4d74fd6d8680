"""Personal data: the vault that encrypts it, and its deletion past retention."""

from __future__ import annotations

from backend.services.privacy.personal_data import Vault, mask_phone, normalise_phone
from backend.services.privacy.retention import purge

__all__ = [
    "Vault", "mask_phone", "normalise_phone", "purge",
]
