"""The opening stamp: a signed "this link's page was opened at T" that the client cannot forge.

The rating page and `GET /api/v1/invitations/{token}` hand one out; a submission sends it
back (`stamp`). It is signed with itsdangerous under SECRET_KEYS (newest key signs, every
key verifies; purpose salt "rating-opening-stamp") and bound to its link by a digest of the
token, so a stamp of one link is worth nothing on another. Nothing of it is stored: the
submission keeps only whether it was stamped (counted per official and day at release, never
on a rating) and, when it was, the seconds between opening and submission.

A submission without a valid stamp is still accepted (a page cached before the stamp
existed, an old client), but it is counted as unstamped; the share of unstamped submissions
per official and day is a fraud signal (a script posting ratings never opens the page).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from itsdangerous import BadSignature, URLSafeSerializer

STAMP_SALT = "rating-opening-stamp"
MAX_AGE_SECONDS = 14 * 24 * 3600  # older than a link lives: expired
CLOCK_SKEW_SECONDS = 60  # a stamp from further in the future was not made here
MAX_STAMP_LENGTH = 200
VALID, MISSING, FORGED, EXPIRED, OTHER_LINK = "valid", "missing", "forged", "expired", "other"


@dataclass(frozen=True)
class StampCheck:
    """What a presented stamp proves: its verdict, and seconds since opening when valid."""

    verdict: str
    seconds: int | None = None

    @property
    def stamped(self) -> bool:
        """Tell whether the submission counts as stamped."""
        return self.verdict == VALID


def link_digest(token: str) -> str:
    """Return the short digest that binds a stamp to its link."""
    return hashlib.sha256(f"stamp:{token}".encode()).hexdigest()[:16]


class StampCodec:
    """Issue and check opening stamps (time passed in: the clock is the caller's)."""

    def __init__(self, secret_keys: Sequence[str], max_age: int = MAX_AGE_SECONDS) -> None:
        if not secret_keys:
            raise ValueError("at least one signing key is needed")
        # itsdangerous signs with the last key and verifies with all of them.
        self.serializer = URLSafeSerializer(list(reversed(secret_keys)), salt=STAMP_SALT)
        self.max_age = max_age

    def issue(self, token: str, now: datetime) -> str:
        """Return the stamp of `token`'s page opened at `now`."""
        return self.serializer.dumps([int(now.timestamp()), link_digest(token)])

    def check(self, stamp: str | None, token: str, now: datetime) -> StampCheck:
        """Verify a presented stamp against the link and the time of submission."""
        if not stamp:
            return StampCheck(MISSING)
        if not isinstance(stamp, str) or len(stamp) > MAX_STAMP_LENGTH:
            return StampCheck(FORGED)
        try:
            opened, digest = self.serializer.loads(stamp)
        except (BadSignature, TypeError, ValueError):
            return StampCheck(FORGED)
        if not isinstance(opened, int) or isinstance(opened, bool):
            return StampCheck(FORGED)
        if digest != link_digest(token):
            return StampCheck(OTHER_LINK)
        seconds = int(now.timestamp()) - opened
        if seconds < -CLOCK_SKEW_SECONDS:
            return StampCheck(FORGED)
        if seconds > self.max_age:
            return StampCheck(EXPIRED)
        return StampCheck(VALID, max(0, seconds))
