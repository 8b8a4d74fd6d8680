"""Keys kept outside the database: sealed ratings, rating MACs, keyed tags of used links."""

from __future__ import annotations

from backend.services.sealing.mac import mac_ok, rating_mac
from backend.services.sealing.seal import Sealer, SealError
from backend.services.sealing.uses import is_used, used_tokens

__all__ = ["SealError", "Sealer", "is_used", "mac_ok", "rating_mac", "used_tokens"]
