"""The official's own view: a signed, expiring link to that official's aggregated report.

The link carries the official's code and one period, signed with itsdangerous (salt
"own-report", every key of SECRET_KEYS verifying, the newest signing) and timestamped: it
expires after `days`. What it shows is `own_view`: the report without comments (a comment
can name its writer however it is filtered), without the n of groups below their minimum
beyond the sample notice, and with nothing finer than the month.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from backend.errors import Gone, InvalidInput, NotFound

SALT = "own-report"
DEFAULT_DAYS = 30
MAX_DAYS = 90
MAX_LINK = 400  # characters of a presented token: longer is no token of ours


@dataclass(frozen=True)
class OwnLink:
    """An issued link's token and when it stops working."""

    token: str
    expires_at: datetime


class OwnLinkCodec:
    """Sign and check own-report links against SECRET_KEYS (newest first)."""

    def __init__(self, secret_keys: Sequence[str]) -> None:
        if not secret_keys:
            raise ValueError("at least one signing key is needed")
        # itsdangerous signs with the last key and verifies with all of them.
        self.serializer = URLSafeTimedSerializer(list(reversed(secret_keys)), salt=SALT)

    def issue(self, code: str, period: str, now: datetime, days: int = DEFAULT_DAYS) -> OwnLink:
        """Return a link token for an official's report of a period, valid for `days` days."""
        if not 1 <= days <= MAX_DAYS:
            raise InvalidInput(f"有效天数应为 1–{MAX_DAYS} 天", {"days": f"1–{MAX_DAYS}"})
        token = self.serializer.dumps({"c": code, "p": period, "d": days})
        return OwnLink(token, now + timedelta(days=days))

    def read(self, token: str) -> tuple[str, str]:
        """Return (official code, period) of a valid link; 404 forged, 410 expired."""
        if not token or len(token) > MAX_LINK:
            raise NotFound("链接无效")
        try:
            # The lifetime is inside the signed payload; loads() below checks the signature.
            _valid, data = self.serializer.loads_unsafe(token)
            days = min(int(data["d"]), MAX_DAYS) if isinstance(data, dict) else 0
            payload = self.serializer.loads(token, max_age=days * 86400)
        except SignatureExpired as exc:
            raise Gone("链接已过期，请向组织部门重新索取") from exc
        except (BadSignature, KeyError, TypeError, ValueError) as exc:
            raise NotFound("链接无效") from exc
        return str(payload["c"]), str(payload["p"])


def own_view(report: dict[str, Any]) -> dict[str, Any]:
    """Return what the official may see of a report: aggregates only, months at the finest."""
    groups = []
    for g in report["groups"]:
        if g["status"] == "ok":
            groups.append({k: g[k] for k in ("group", "name", "status", "n", "trimmed_mean",
                                             "ci95", "satisfaction", "dissatisfaction")})
        else:
            groups.append({"group": g["group"], "name": g["name"], "status": g["status"],
                           "text": "样本不足"})
    keep = ("cadre", "period", "headline", "headline_label", "tags", "flags", "trend",
            "standing", "window_n")
    return {**{k: report[k] for k in keep}, "groups": groups}
