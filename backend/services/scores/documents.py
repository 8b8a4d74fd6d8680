"""Compute one official's score document from its counts (read by score_counts).

Each document is encoded to JSON once: its hash (for change detection) and every write (the
snapshot, the push) use that one text.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import orjson

from backend.models import SurveyTemplate
from backend.scoring import (
    Period,
    Scheme,
    composite,
    pairs_digest,
    scheme_from_dict,
    score_document,
    score_flags,
    score_pairs,
    sorted_counts,
)
from backend.services.scores.score_counts import OfficialCounts
from backend.services.scores.targets import OFFICIAL_TARGET, is_team_target
from backend.storage.bulk import EncodedJSON


@dataclass(frozen=True)
class Computed:
    """A computed score document with its change-detection hash."""

    cadre_id: int
    code: str
    document: dict
    document_hash: str
    flags: tuple[str, ...]
    document_json: EncodedJSON  # the document's JSON text, encoded once for every write
    team: bool = False  # a unit's leadership team rather than an official


def scheme_of(row: SurveyTemplate) -> Scheme:
    """Build the pure Scheme of a registered scheme version."""
    return scheme_from_dict({**row.definition, "version": row.version}, f"schemes/{row.key}")


UNHASHED = ("computed_at", "ledger_checkpoint")
SORTED = orjson.OPT_SORT_KEYS


def encode_document(document: dict) -> tuple[EncodedJSON, str]:
    """Encode a document once: return its JSON text and the hash of all but UNHASHED keys.

    Keys sorted, no spaces, UTF-8: the standard library's `sort_keys=True, separators=(",",
    ":"), ensure_ascii=False` text, but for the exponent of floats below 1e-4 (`1e-5`, not
    `1e-05`), the same number either way. orjson writes it about ten times as fast, and a
    publication encodes a document per official.
    """
    stable = orjson.dumps({k: v for k, v in document.items() if k not in UNHASHED},
                          option=SORTED)
    digest = hashlib.sha256(stable).hexdigest()
    rest = {k: document[k] for k in UNHASHED if k in document}
    if not rest:
        return EncodedJSON(stable.decode()), digest
    # The hashed keys (sorted), then the unhashed ones: one valid JSON object, encoded once.
    tail = orjson.dumps(rest, option=SORTED)
    text = stable[:-1] + b"," + tail[1:] if stable != b"{}" else tail
    return EncodedJSON(text.decode()), digest


@functools.lru_cache(maxsize=8)  # one publication asks 20,000 times for the same moment
def iso_seconds(moment: datetime) -> str:
    """Return a moment in ISO 8601 to the second."""
    return moment.isoformat(timespec="seconds")


def compute(counts: OfficialCounts, period: Period, scheme: Scheme, now: datetime,
            checkpoint: str | None, target: Mapping[str, str] = OFFICIAL_TARGET) -> Computed:
    """Compute one target's score document exactly as SCORING.md says.

    `target` holds the fields saying what the score is of (`target_kind`, and a team's
    `unit_code`); they are part of the document and of its hash.
    """
    pairs = {group: sorted_counts(hist) for group, hist in counts.histograms.items()}
    groups = {name: score_pairs(pairs.get(name, []), counts.tags.get(name, {}), rule, scheme)
              for name, rule in scheme.groups.items()}
    total = composite(groups, scheme)
    flags = score_flags(groups, counts.six_month_n, scheme)
    document = score_document(counts.code, period.label, scheme, groups, total, flags,
                              pairs_digest(pairs), checkpoint, iso_seconds(now))
    document.update(target)
    text, digest = encode_document(document)
    return Computed(counts.cadre_id, counts.code, document, digest, tuple(flags), text,
                    is_team_target(target))
