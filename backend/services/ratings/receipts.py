"""Receipt checks: a rater learns whether their rating is in the ledger, and nothing else shows.

The answer names a checkpoint, a leaf hash and its Merkle audit path, never the score or the
official. A leaf hash covers the rating's receipt hash, which only the receipt's holder can
compute, so neither a leaf nor the siblings in a proof can be matched to a guessed rating.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.orm import Session

from backend.errors import NotFound
from backend.services.ledger.chain import inclusion_proof

RECEIPT = re.compile(r"^[0-9a-f]{32}$")


def check_receipt(session: Session, receipt: str) -> dict[str, Any]:
    """Return {"status": "pending"} or the proofs of inclusion; NotFound for unknown receipts."""
    receipt = receipt.strip().lower()
    if not RECEIPT.match(receipt):
        raise NotFound("凭证不存在")
    return inclusion_proof(session, receipt)
