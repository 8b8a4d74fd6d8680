"""Release what submissions left pending, as the release job would (whatever the batch size)."""

from __future__ import annotations

from backend import wiring
from backend.extensions import db
from backend.services.ratings.release import ReleaseReport, release


def release_all() -> ReleaseReport:
    """Move every pending rating and opening into the ledger now; commit."""
    return release(db.session, wiring.release_context(), force=True)
