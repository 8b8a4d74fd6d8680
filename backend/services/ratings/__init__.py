"""Ratings: submission, release into the ledger's batches, receipts, seals."""

from __future__ import annotations

from backend.services.ratings.opens import note_open
from backend.services.ratings.receipts import check_receipt
from backend.services.ratings.release import ReleaseContext, release
from backend.services.ratings.rules import Submission, check_submission
from backend.services.ratings.submission import SubmitContext, open_invitation, submit
from backend.services.ratings.views import invitation_view

__all__ = [
    "ReleaseContext", "Submission", "SubmitContext", "check_receipt", "check_submission",
    "invitation_view", "note_open", "open_invitation", "release", "submit",
]
