"""The rating ledger: chained batches, daily Merkle roots, verification, receipts."""

from __future__ import annotations

from backend.services.ledger.chain import (
    checkpoint_days,
    close_day,
    inclusion_proof,
    list_checkpoints,
)
from backend.services.ledger.integrity import check_integrity
from backend.services.ledger.verify import VerifyResult, verify

__all__ = [
    "VerifyResult", "check_integrity", "checkpoint_days", "close_day", "inclusion_proof",
    "list_checkpoints", "verify",
]
