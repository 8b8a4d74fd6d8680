"""The MAC every stored rating carries: its content and status under a key outside the database.

A rating written or edited by hand (score, official, tags, comment, time, receipt, or a
flipped status) no longer matches; `ledger verify` checks every one. Exclusion is the one
legitimate change of a stored rating, and it renews the MAC.
"""

from __future__ import annotations

from operator import attrgetter
from typing import Any

from backend.scoring.merkle import utc_isoformat
from backend.services.sealing.seal import Sealer

# What a rating's MAC covers: everything stored but its id and the MAC itself.
MAC_FIELDS = ("cadre_id", "rater_group", "score", "tags", "comment", "template_id",
              "event_type", "batch_at", "month", "receipt_hash", "status", "excluded_reason")


_fields = attrgetter(*MAC_FIELDS)


def mac_content(row: Any) -> dict:
    """Return what a rating's MAC covers, from a row dict or a loaded rating (or a row)."""
    if isinstance(row, dict):
        values = {k: row.get(k) for k in MAC_FIELDS}
    else:  # one C-level call for every field: `ledger verify` does this millions of times
        values = dict(zip(MAC_FIELDS, _fields(row), strict=True))
    values["tags"] = sorted(values["tags"] or [])
    values["batch_at"] = utc_isoformat(values["batch_at"])
    return values


def rating_mac(sealer: Sealer, row: Any) -> str:
    """Return the MAC of a rating (a row dict or a loaded rating)."""
    return sealer.mac(mac_content(row))


def mac_ok(sealer: Sealer, row: Any) -> bool:
    """Tell whether a stored rating still matches its MAC."""
    return sealer.mac_ok(mac_content(row), row["mac"] if isinstance(row, dict) else row.mac)
