"""Receipt checks: a rater learns whether their rating is in the ledger, and nothing else shows.

The answer names a checkpoint, a leaf hash and its Merkle audit path, never the score or the
official. A leaf hash covers the rating's receipt hash, which only the receipt's holder can
compute, so neither a leaf nor the siblings in a proof can be matched to a guessed rating.
"""

from __future__ import annotations

import re
from datetime import datetime, tzinfo
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.errors import NotFound
from backend.models import PendingItem
from backend.scoring.merkle import accepted_hash
from backend.services.cases import CaseRules, file_report
from backend.services.cases.flow import record_verdict
from backend.services.cases.views import case_for_receipt, receipt_case
from backend.services.ledger.chain import inclusion_proof, receipt_ratings
from backend.services.privacy import Vault

RECEIPT = re.compile(r"^[0-9a-f]{32}$")


def check_receipt(session: Session, receipt: str) -> dict[str, Any]:
    """Return {"status": "pending"} or the proofs of inclusion; NotFound for unknown receipts.

    When a rating under the receipt opened a case (整改单), its state comes too, and once
    closed the reply, so the rater sees the answer.
    """
    receipt = _canonical(receipt)
    rating_ids = receipt_ratings(session, receipt)
    answer = inclusion_proof(session, receipt, rating_ids)
    case = receipt_case(session, rating_ids)
    if case is not None:
        answer["case"] = case
    return answer


def rate_handling(session: Session, receipt: str, verdict: str, now: datetime) -> dict[str, Any]:
    """Record once whether the rater is satisfied with the closed case's handling."""
    case = case_for_receipt(session, receipt_ratings(session, _canonical(receipt)))
    record_verdict(session, case, verdict, now)
    session.commit()
    return receipt_case(session, [case.rating_id])


def report_pressure(session: Session, receipt: str, kind: str, text: str, phone: str | None,
                    vault: Vault, rules: CaseRules, tz: tzinfo, now: datetime) -> dict[str, str]:
    """Take a rater's report of retaliation or pressure to the discipline side; commit."""
    receipt = _canonical(receipt)
    rating_ids = receipt_ratings(session, receipt)
    if not rating_ids and not session.scalar(select(PendingItem.id).where(
            PendingItem.receipt_hash == accepted_hash(receipt))):
        raise NotFound("凭证不存在")
    file_report(session, rating_ids, kind, text, phone, vault, rules, tz, now)
    session.commit()
    return {"status": "received"}


def _canonical(receipt: str) -> str:
    receipt = receipt.strip().lower()
    if not RECEIPT.match(receipt):
        raise NotFound("凭证不存在")
    return receipt
